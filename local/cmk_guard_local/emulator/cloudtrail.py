"""CloudTrail event history of the emulated account: record store, subscribers and ``LookupEvents``."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.utils import parse_timestamp

from .wire import ServiceError

log = logging.getLogger(__name__)

LOOKUP_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource",
               "AccessKeyId")
Subscriber = Callable[[dict], None]


@dataclass
class _Stored:
    seq: int
    at: float  # epoch seconds of the call
    account: str
    region: str
    record: dict


class _TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class CloudTrailEmulator:
    """Event history per (account, region). ``LookupEvents`` sees a record ``delivery_delay_seconds`` after the
    call and is rate limited to ``rate_per_second`` (burst ``burst``) per account and region."""

    def __init__(self) -> None:
        self.delivery_delay_seconds: float = 0.0
        self.rate_limit_enabled: bool = True
        self.rate_per_second: float = 2.0
        self.burst: float = 2.0
        self.callback_errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stored: list[_Stored] = []
        self._seq = 0
        self._subscribers: list[Subscriber] = []
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._lookup_times: list[float] = []

    # -- store -------------------------------------------------------------------------------------------------
    def record(self, record: dict, *, account: str, region: str, at: float | None = None) -> None:
        """Store a record and hand a copy to every subscriber (synchronously, in the calling thread)."""
        with self._lock:
            self._seq += 1
            self._stored.append(_Stored(self._seq, time.time() if at is None else at, account, region, record))
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(copy.deepcopy(record))
            except Exception as exc:  # noqa: BLE001 - a broken subscriber must not break the caller's API call
                log.exception("CloudTrail subscriber %r failed", callback)
                self.callback_errors.append(exc)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(record)`` for each new record; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def events(self) -> list[dict]:
        """Snapshot of every record, oldest first (all accounts and regions); treat the dicts as read-only."""
        with self._lock:
            return [s.record for s in self._stored]

    def events_for(self, account: str, region: str) -> list[dict]:
        """Snapshot of the records of one account and region, oldest first."""
        with self._lock:
            return [s.record for s in self._stored if s.account == account and s.region == region]

    @property
    def lookup_call_times(self) -> list[float]:
        """Epoch timestamps of every ``LookupEvents`` attempt (throttled and fault-injected ones included)."""
        with self._lock:
            return list(self._lookup_times)

    def reset(self) -> None:
        """Forget records, subscribers, rate-limit state and settings."""
        with self._lock:
            self._stored.clear()
            self._subscribers.clear()
            self._buckets.clear()
            self._lookup_times.clear()
            self.callback_errors.clear()
        self.delivery_delay_seconds, self.rate_limit_enabled = 0.0, True

    # -- LookupEvents -------------------------------------------------------------------------------------------
    def note_lookup_attempt(self) -> None:
        with self._lock:
            self._lookup_times.append(time.time())

    def lookup_events(self, params: dict, account: str, region: str) -> dict:
        """Answer ``LookupEvents`` (output in Python form) or raise the service's ``ServiceError``."""
        if self.rate_limit_enabled and not self._take_token(account, region):
            raise ServiceError("ThrottlingException", "Rate exceeded", 400)
        attrs = params.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise ServiceError("InvalidLookupAttributesException",
                               "You can specify at most one lookup attribute.")
        attr = None
        if attrs:
            key, value = attrs[0].get("AttributeKey"), attrs[0].get("AttributeValue")
            if key not in LOOKUP_KEYS:
                raise ServiceError("InvalidLookupAttributesException",
                                   f"Lookup attribute key {key!r} must be one of {', '.join(LOOKUP_KEYS)}.")
            attr = (key, value)
        start, end = _epoch(params.get("StartTime")), _epoch(params.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise ServiceError("InvalidTimeRangeException", "The start time must be earlier than the end time.")
        limit = params.get("MaxResults", 50)
        if not 1 <= int(limit) <= 50:
            raise ServiceError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
        category = params.get("EventCategory")
        if category not in (None, "insight"):
            raise ServiceError("InvalidEventCategoryException", f"Invalid event category {category!r}.")
        fingerprint = _fingerprint(params)
        after_seq = _decode_token(params.get("NextToken"), fingerprint)
        now = time.time()
        with self._lock:
            candidates = [s for s in self._stored if s.account == account and s.region == region]
        visible = [
            s for s in reversed(candidates)
            if category is None and now >= s.at + self.delivery_delay_seconds
            and (after_seq is None or s.seq < after_seq)
            and (start is None or s.at >= start) and (end is None or s.at <= end)
            and (attr is None or _matches(s.record, *attr))
        ]
        page = visible[: int(limit)]
        out: dict[str, Any] = {"Events": [_event(s) for s in page]}
        if len(visible) > len(page):
            out["NextToken"] = _encode_token(fingerprint, page[-1].seq)
        return out

    def _take_token(self, account: str, region: str) -> bool:
        with self._lock:
            bucket = self._buckets.get((account, region))
            if bucket is None:
                bucket = self._buckets[(account, region)] = _TokenBucket(self.rate_per_second, self.burst)
            return bucket.take()


def username(record: dict) -> str:
    """CloudTrail's ``Username``: the session name for assumed roles, the user name for users."""
    ident = record.get("userIdentity") or {}
    if ident.get("type") == "AssumedRole":
        return str(ident.get("arn", "")).rsplit("/", 1)[-1]
    if ident.get("type") == "Root":
        return "root"
    return str(ident.get("userName", ""))


def _matches(record: dict, key: str, value: str) -> bool:
    resources = record.get("resources") or []
    if key == "EventId":
        return record.get("eventID") == value
    if key == "EventName":
        return record.get("eventName") == value
    if key == "ReadOnly":
        return str(record.get("readOnly")).lower() == str(value).lower()
    if key == "Username":
        return username(record) == value
    if key == "ResourceType":
        return any(r.get("type") == value for r in resources)
    if key == "ResourceName":
        return any(r.get("ARN") == value for r in resources)
    if key == "EventSource":
        return record.get("eventSource") == value
    return (record.get("userIdentity") or {}).get("accessKeyId") == value


def _event(stored: _Stored) -> dict:
    rec = stored.record
    return {
        "EventId": rec["eventID"],
        "EventName": rec["eventName"],
        "ReadOnly": str(rec.get("readOnly", False)).lower(),
        "AccessKeyId": (rec.get("userIdentity") or {}).get("accessKeyId", ""),
        "EventTime": datetime.fromtimestamp(int(stored.at), timezone.utc),
        "EventSource": rec["eventSource"],
        "Username": username(rec),
        "Resources": [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in rec.get("resources") or []],
        "CloudTrailEvent": json.dumps(rec),
    }


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return parse_timestamp(value).timestamp()


def _fingerprint(params: dict) -> str:
    same = {k: v for k, v in params.items() if k != "NextToken"}
    same["StartTime"], same["EndTime"] = _epoch(params.get("StartTime")), _epoch(params.get("EndTime"))
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_token(fingerprint: str, seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"f": fingerprint, "s": seq}).encode()).decode()


def _decode_token(token: str | None, fingerprint: str) -> int | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["f"] == fingerprint:
            return int(data["s"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ServiceError("InvalidNextTokenException", "Invalid NextToken: it must come from a call with the same "
                                                    "parameters.")
