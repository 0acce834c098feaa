"""CloudTrail event history: look up KMS events on one key, within LookupEvents' 2-requests-per-second quota."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from cmk_guard.adapters.aws import translated

# LookupEvents allows 2 requests per second per account and region, counted where the request arrives: 0.55 s
# (not 0.5) leaves room for the time between sending and being counted.
MIN_INTERVAL_SECONDS = 0.55
MAX_PAGES = 10


class _Pacer:
    """Spaces LookupEvents attempts (retries included) at least ``MIN_INTERVAL_SECONDS`` apart.

    ``wait`` runs just before an attempt goes on the wire; ``done`` runs when its answer arrives and starts the
    interval again from there, so a request delayed on its way cannot end up closer to the next one than the interval.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, **_: Any) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            time.sleep(delay)

    def done(self, **_: Any) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + self._interval)


_PACER = _Pacer(MIN_INTERVAL_SECONDS)


class CloudTrail:
    def __init__(self, client: Any) -> None:
        self._client = client
        # before-send: the last moment before each attempt (retries included) goes on the wire.
        events = client.meta.events
        for event, handler in (("before-send", _PACER.wait), ("response-received", _PACER.done)):
            events.unregister(f"{event}.cloudtrail.LookupEvents", handler, unique_id=f"cmk-guard-pacer-{event}")
            events.register(f"{event}.cloudtrail.LookupEvents", handler, unique_id=f"cmk-guard-pacer-{event}")

    def key_events(self, key_arn: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """CloudTrail records naming ``key_arn`` between ``start`` and ``end``, newest first (at most 10 pages)."""
        records: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": 50,
        }
        with translated(f"LookupEvents {key_arn}"):
            for _ in range(MAX_PAGES):
                page = self._client.lookup_events(**params)
                for event in page.get("Events", []):
                    try:
                        records.append(json.loads(event.get("CloudTrailEvent") or "{}"))
                    except ValueError:
                        continue
                token = page.get("NextToken")
                if not token:
                    break
                params["NextToken"] = token
        return records
