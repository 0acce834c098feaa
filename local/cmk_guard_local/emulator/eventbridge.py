"""``events:TestEventPattern``, which moto 5.2.5 answers with an empty body (its matcher is used here)."""

from __future__ import annotations

import json

from .wire import ServiceError


def test_event_pattern(params: dict) -> dict:
    """Output of TestEventPattern (``{"Result": bool}``) using moto's EventBridge pattern matcher."""
    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventPattern

    try:
        event = json.loads(params["Event"])
    except ValueError as exc:
        raise ServiceError("InvalidEventPatternException", f"Event is not valid JSON: {exc}") from None
    missing = [k for k in ("id", "account", "source", "time", "region", "detail-type") if k not in event]
    if missing:
        raise ServiceError("InvalidEventPatternException", f"Event is missing required fields: {missing}")
    try:
        return {"Result": EventPattern.load(params["EventPattern"]).matches_event(event)}
    except JsonRESTError as exc:
        raise ServiceError(exc.error_type, exc.message) from None
