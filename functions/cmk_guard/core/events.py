"""Parse the EventBridge envelope of a CloudTrail ``CreateDataSource``/``UpdateDataSource`` record.

Only identifiers are taken from the event: its body may be redacted and is never trusted for the current state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cmk_guard.errors import InvalidEventError

HANDLED_EVENTS = frozenset({"CreateDataSource", "UpdateDataSource"})
_ID = r"^[0-9a-zA-Z]{10}$"
MAX_EVENT_BYTES = 256 * 1024


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


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "event"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_event(
    event: Any, *, size_hint: int | None = None, home_account: str | None = None, home_region: str | None = None
) -> DataSourceEvent:
    """Turn an EventBridge event into a ``DataSourceEvent`` or raise ``InvalidEventError`` saying why.

    ``home_account``/``home_region``, when given, are the only account and region the caller handles: an event for
    another one is refused rather than acted on with this account's roles.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    if size_hint is not None and size_hint > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event is {size_hint} bytes, over the {MAX_EVENT_BYTES}-byte limit")
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
