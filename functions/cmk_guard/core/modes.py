"""Resolve how a non-compliant data source is handled: the stack default, overridden per knowledge base by tag."""

from __future__ import annotations

from dataclasses import dataclass

from cmk_guard.core.models import Mode

MODE_TAG = "cmk-guard:mode"
EXEMPT_REASON_TAG = "cmk-guard:exempt-reason"


@dataclass(frozen=True)
class ModeDecision:
    mode: Mode
    source: str
    note: str | None = None


def resolve_mode(default: Mode, tags: dict[str, str] | None) -> ModeDecision:
    """``tags`` is ``None`` when they could not be read: that fails closed to ``approval``, as does a bad value."""
    if tags is None:
        return ModeDecision(Mode.APPROVAL, "fail-closed", "knowledge base tags could not be read")
    raw = tags.get(MODE_TAG)
    if raw is None:
        return ModeDecision(default, "stack")
    try:
        return ModeDecision(Mode(raw.strip().lower()), "tag")
    except ValueError:
        return ModeDecision(Mode.APPROVAL, "fail-closed", f"tag {MODE_TAG}={raw!r} is not a known mode")
