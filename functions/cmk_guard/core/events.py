"""Parse what starts the workflow: the EventBridge envelope of a CloudTrail ``CreateDataSource``/``UpdateDataSource``
record, or a finding of the sweep (``source`` ``cmk-guard.sweep``).

Only identifiers are taken from the event: its body may be redacted and is never trusted for the current state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from cmk_guard.core.models import Target
from cmk_guard.errors import InvalidEventError

HANDLED_EVENTS = frozenset({"CreateDataSource", "UpdateDataSource"})
_ID = r"^[0-9a-zA-Z]{10}$"
_REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"
MAX_EVENT_BYTES = 256 * 1024
SWEEP_SOURCE = "cmk-guard.sweep"
SWEEP_DETAIL_TYPE = "Data source found by the sweep"
SWEEP_EVENT_NAME = "Sweep"
SWEEP_ID_PATTERN = r"^[0-9A-Za-z_-]{1,40}$"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _ResponseDataSource(_Lenient):
    data_source_id: str | None = Field(default=None, alias="dataSourceId", pattern=_ID)


class _ResponseElements(_Lenient):
    data_source: _ResponseDataSource | None = Field(default=None, alias="dataSource")


class _RequestParameters(_Lenient):
    knowledge_base_id: str = Field(alias="knowledgeBaseId", pattern=_ID)
    data_source_id: str | None = Field(default=None, alias="dataSourceId", pattern=_ID)
    name: str | None = Field(default=None, pattern=r"^([0-9a-zA-Z][_-]?){1,100}$")


class _CloudTrailRecord(_Lenient):
    event_id: str = Field(alias="eventID", min_length=1, max_length=128, pattern=r"^[0-9a-zA-Z-]+$")
    event_name: str = Field(alias="eventName")
    event_source: str = Field(alias="eventSource")
    event_time: datetime = Field(alias="eventTime")
    aws_region: str = Field(alias="awsRegion", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId", pattern=r"^\d{12}$")
    error_code: str | None = Field(default=None, alias="errorCode")
    request_parameters: _RequestParameters = Field(alias="requestParameters")
    response_elements: _ResponseElements | None = Field(default=None, alias="responseElements")


class _Envelope(_Lenient):
    account: str = Field(pattern=r"^\d{12}$")
    region: str
    detail_type: str = Field(alias="detail-type")
    detail: _CloudTrailRecord


class _SweepDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account_id: str = Field(alias="accountId", pattern=r"^\d{12}$")
    region: str = Field(pattern=_REGION)
    knowledge_base_id: str = Field(alias="knowledgeBaseId", pattern=_ID)
    data_source_id: str = Field(alias="dataSourceId", pattern=_ID)
    sweep_id: str = Field(alias="sweepId", pattern=SWEEP_ID_PATTERN)
    observed_at: AwareDatetime = Field(alias="observedAt")


class _SweepEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: Literal["cmk-guard.sweep"]
    detail_type: Literal["Data source found by the sweep"] = Field(alias="detail-type")
    detail: _SweepDetail


class DataSourceEvent(BaseModel):
    """What an event says: where to look. ``data_source_id`` may be absent for a Create (then look up by name)."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    region: str
    knowledge_base_id: str
    data_source_id: str | None
    data_source_name: str | None
    event_id: str
    event_name: str
    event_time: datetime

    def target(self, data_source_id: str) -> Target:
        """The data source this event is about, once its id is known (from the event or looked up by name)."""
        return Target(
            account_id=self.account_id,
            region=self.region,
            knowledge_base_id=self.knowledge_base_id,
            data_source_id=data_source_id,
            event_id=self.event_id,
            event_name=self.event_name,
            event_time=self.event_time,
        )


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "event"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def sweep_event_id(sweep_id: str, knowledge_base_id: str, data_source_id: str) -> str:
    """The event id of a sweep finding: one per sweep and data source, so a repeated start is claimed once.

    It is also the name of the remediate execution the sweep starts (at most 68 characters, of ``[0-9A-Za-z_-]``).
    """
    return f"sweep-{sweep_id}-{knowledge_base_id}-{data_source_id}"


def sweep_event(
    account_id: str, region: str, knowledge_base_id: str, data_source_id: str, sweep_id: str, observed_at: datetime
) -> dict[str, Any]:
    """The input the sweep starts the remediate workflow with (``parse_event`` reads it back)."""
    detail = _SweepDetail(
        account_id=account_id,
        region=region,
        knowledge_base_id=knowledge_base_id,
        data_source_id=data_source_id,
        sweep_id=sweep_id,
        observed_at=observed_at,
    )
    return {
        "source": SWEEP_SOURCE,
        "detail-type": SWEEP_DETAIL_TYPE,
        "detail": detail.model_dump(mode="json", by_alias=True),
    }


def _parse_sweep(event: dict[str, Any]) -> DataSourceEvent:
    try:
        envelope = _SweepEnvelope.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"not a cmk-guard sweep finding: {_describe(exc)}") from exc
    detail = envelope.detail
    return DataSourceEvent(
        account_id=detail.account_id,
        region=detail.region,
        knowledge_base_id=detail.knowledge_base_id,
        data_source_id=detail.data_source_id,
        data_source_name=None,
        event_id=sweep_event_id(detail.sweep_id, detail.knowledge_base_id, detail.data_source_id),
        event_name=SWEEP_EVENT_NAME,
        event_time=detail.observed_at,
    )


def parse_event(
    event: Any, *, size_hint: int | None = None, home_account: str | None = None, home_region: str | None = None
) -> DataSourceEvent:
    """Turn an EventBridge event or a sweep finding into a ``DataSourceEvent``; raise ``InvalidEventError`` saying why.

    The sweep finding's event time is when the sweep observed the data source, so the time to remediate counts
    from then. ``home_account``/``home_region``, when given, are the only account and region the caller handles:
    an event for another one is refused rather than acted on with this account's roles.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    if size_hint is not None and size_hint > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {size_hint} bytes, over the {MAX_EVENT_BYTES}-byte limit")
    if event.get("source") == SWEEP_SOURCE:
        return _parse_sweep(event)
    try:
        envelope = _Envelope.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(f"not a CloudTrail data-source event: {_describe(exc)}") from exc
    record = envelope.detail
    if record.event_source != "bedrock.amazonaws.com":
        raise InvalidEventError(f"eventSource {record.event_source!r} is not bedrock.amazonaws.com")
    if record.event_name not in HANDLED_EVENTS:
        raise InvalidEventError(f"eventName {record.event_name!r} is not one of {sorted(HANDLED_EVENTS)}")
    if record.error_code:
        raise InvalidEventError(f"the call failed ({record.error_code}); nothing was changed")
    account = record.recipient_account_id or envelope.account
    if account != envelope.account:
        raise InvalidEventError(f"event account {envelope.account} differs from recipient account {account}")
    if home_account is not None and account != home_account:
        raise InvalidEventError(f"event is for account {account}; this stack handles account {home_account} only")
    if home_region is not None and record.aws_region != home_region:
        raise InvalidEventError(f"event is for region {record.aws_region}; this stack handles {home_region} only")
    params = record.request_parameters
    data_source_id = params.data_source_id
    if record.event_name == "CreateDataSource":
        response = record.response_elements
        data_source_id = response.data_source.data_source_id if response and response.data_source else None
        if data_source_id is None and params.name is None:
            raise InvalidEventError("CreateDataSource event names neither the data source id nor its name")
    elif data_source_id is None:
        raise InvalidEventError("UpdateDataSource event has no requestParameters.dataSourceId")
    return DataSourceEvent(
        account_id=account,
        region=record.aws_region,
        knowledge_base_id=params.knowledge_base_id,
        data_source_id=data_source_id,
        data_source_name=params.name,
        event_id=record.event_id,
        event_name=record.event_name,
        event_time=record.event_time,
    )
