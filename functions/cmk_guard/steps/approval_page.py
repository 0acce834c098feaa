"""The approval page's two actions. ``show`` (GET) only reads. ``decide`` (POST) records one decision, once, and hands
it to the waiting workflow.

Order of ``decide``: refuse cross-site posts and bad forms before touching anything; claim the decision with one
conditional write (undecided and before the deadline), which also takes the task token out of the ledger; only then
call Step Functions. If the workflow no longer waits, the claim stays and says so; if the call fails otherwise, the
claim is undone so the person can try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cmk_guard.core import approval_page as pages
from cmk_guard.core.approval import DecisionForm, callback_output, decided_by, ledger_key, well_formed

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmk_guard.adapters.approvals import ApprovalStore
    from cmk_guard.adapters.callbacks import TaskCallbacks


@dataclass(frozen=True)
class Requester:
    """What the page knows about who posted: the source IP and user agent API Gateway saw, and whether the post
    came from the page itself (``Origin``/``Sec-Fetch-Site``)."""

    source_ip: str
    user_agent: str
    same_origin: bool


@dataclass(frozen=True)
class PagePorts:
    store: ApprovalStore
    callbacks: TaskCallbacks
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    page: pages.Page
    outcome: str  # for the log: shown, approved, rejected, not-found, expired, already-decided, ...
    execution_arn: str | None = None
    error: str | None = None  # the error type when the hand-over failed (never its message)


def _state_page(request: dict[str, Any] | None, now: datetime) -> Result | None:
    """The page for a request that cannot be decided (unknown, decided, expired), or ``None`` if it is open."""
    if request is None:
        return Result(pages.not_found(), "not-found")
    if request.get("decidedAt"):
        if request.get("handover") == "not-waiting":
            return Result(pages.no_longer_waiting(), "not-waiting")
        return Result(pages.already_decided(request), "already-decided")
    if int(request.get("deadlineEpoch", 0)) <= int(now.timestamp()):
        return Result(pages.expired(request), "expired")
    return None


def show(approval_id: str, ports: PagePorts) -> Result:
    """GET: the details and the form, or why there is nothing to decide. Never writes."""
    if not well_formed(approval_id):
        return Result(pages.not_found(), "not-found")
    request = ports.store.get(ledger_key(approval_id))
    closed = _state_page(request, ports.now())
    if closed:
        return closed
    assert request is not None
    return Result(pages.pending(request), "shown")


def decide(approval_id: str, fields: dict[str, str], requester: Requester, ports: PagePorts) -> Result:
    """POST: one decision per request, and only before the deadline."""
    if not well_formed(approval_id):
        return Result(pages.not_found(), "not-found")
    if not requester.same_origin:
        return Result(pages.cross_site(), "cross-site")
    key = ledger_key(approval_id)
    try:
        form = DecisionForm.model_validate(fields)
    except ValidationError as exc:
        request = ports.store.get(key)
        closed = _state_page(request, ports.now())
        if closed:
            return closed
        assert request is not None
        problems = {str(error["loc"][0]) for error in exc.errors() if error.get("loc")}
        text = (
            "Type your name, then choose Approve or Reject."
            if "name" in problems or "decision" in problems
            else ("The reason is too long.")
        )
        page = pages.pending(
            request, error=text, name=fields.get("name", "")[:100], reason=fields.get("reason", "")[:1000]
        )
        return Result(page, "invalid-form")
    now = ports.now()
    decided_at = now.isoformat()
    who = decided_by(form.name, requester.source_ip, requester.user_agent)
    claimed = ports.store.claim(
        key,
        now_epoch=int(now.timestamp()),
        decision=form.outcome.value,
        decided_by=who,
        decided_at=decided_at,
        reason=form.reason,
    )
    if claimed is None:
        return _state_page(ports.store.get(key), now) or Result(pages.try_again(), "claim-refused")
    token = claimed["taskToken"]
    output = callback_output(form, who, claimed["requestedAt"], claimed["deadline"], decided_at)
    try:
        delivered = ports.callbacks.send_success(token, output)
    except Exception as exc:  # whatever failed, the workflow did not get the decision: undo the claim
        ports.store.release(key, task_token=token, decided_at=decided_at)
        return Result(pages.try_again(), "not-delivered", claimed.get("executionArn"), type(exc).__name__)
    ports.store.record_handover(key, "delivered" if delivered else "not-waiting")
    if not delivered:
        return Result(pages.no_longer_waiting(), "not-waiting", claimed.get("executionArn"))
    return Result(pages.decided(form.outcome.value), form.outcome.value, claimed.get("executionArn"))
