"""propose: describe the fix a non-compliant data source would get (notify and approval modes), and, in approval
mode, ask a person: store the request in the ledger and e-mail the link to the approval page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cmk_guard.core import approval
from cmk_guard.core.key_scope import key_scope
from cmk_guard.core.models import KnowledgeBaseFacts, Mode, Target
from cmk_guard.core.proposal import description, plan_fix
from cmk_guard.errors import AccessDeniedError, KeyUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmk_guard.adapters.approvals import ApprovalStore
    from cmk_guard.adapters.kms import Kms
    from cmk_guard.adapters.notifier import Notifier
    from cmk_guard.config import Settings

APPROVAL_ROUTE = "/approvals/{id}"


def run_describe(state: dict[str, Any], settings: Settings, kms: Kms) -> dict[str, Any]:
    """The proposal (``$.proposal``): the key the data source would get, who may use it, and in approval mode the
    wait in seconds the callback state times out after."""
    target = Target.model_validate(state["target"])
    check = state["check"]
    kb = KnowledgeBaseFacts.model_validate(check["knowledgeBase"])
    scope = key_scope(settings.key_strategy, kb, settings.key_group_tag_key, settings.existing_key_arn or None)
    lookup = scope.existing_key_arn or scope.alias or ""
    key, readable = None, False
    # A member account's keys are not this account's to describe: the proposal then says the key is decided at
    # fix time, by the key step acting in that account, rather than guessing from this account's aliases.
    if not settings.home_account_id or target.account_id == settings.home_account_id:
        try:
            key, readable = kms.describe_key(lookup), True
        except AccessDeniedError:
            key, readable = None, False
    proposal = plan_fix(
        scope,
        key,
        key_readable=readable,
        role_arn=kb.role_arn,
        admins=settings.admins_for(target.account_id),
        rotation_period_days=settings.key_rotation_period_days,
        sync_after_update=settings.sync_after_update,
    )
    if not readable and settings.home_account_id and target.account_id != settings.home_account_id:
        proposal["keyAction"] = "decide-in-member-account"
        proposal["account"] = target.account_id
        proposal.pop("note", None)
    if check.get("mode") == Mode.APPROVAL:
        proposal["approvalTimeoutSeconds"] = settings.approval_timeout_seconds
    return proposal


@dataclass(frozen=True)
class RequestPorts:
    store: ApprovalStore
    notifier: Notifier
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: secrets.token_urlsafe(approval.ID_BYTES)


def approval_link(page_url: str, approval_id: str) -> str:
    return page_url.rstrip("/") + APPROVAL_ROUTE.replace("{id}", approval_id)


def run_request(
    state: dict[str, Any], execution_arn: str, task_token: str, page_url: str, ports: RequestPorts
) -> dict[str, Any]:
    """Store the request under the hash of a fresh approval id and e-mail the one link.

    The result is not the workflow's: the callback's output is. It names neither the id nor the token, because
    Step Functions keeps it in the execution history.
    """
    proposal = state.get("proposal") or {}
    if proposal.get("keyAction") == "blocked":
        raise KeyUnavailableError(f"not asking for approval of a fix that cannot work: {proposal.get('blocker')}")
    approval_id = ports.new_id()
    if not approval.well_formed(approval_id):
        raise ValueError("the approval id generator produced an id of the wrong shape")
    requested = ports.now()
    deadline = requested + timedelta(seconds=int(proposal["approvalTimeoutSeconds"]))
    ports.store.put_request(
        approval.ledger_key(approval_id),
        task_token=task_token,
        execution_arn=execution_arn,
        target=state["target"],
        description=description(state),
        requested_at=requested.isoformat(),
        deadline=deadline.isoformat(),
        deadline_epoch=int(deadline.timestamp()),
        expires_at=int(deadline.timestamp()) + approval.RETENTION_AFTER_DEADLINE_SECONDS,
    )
    subject, body = approval.email(state, approval_link(page_url, approval_id), deadline.isoformat())
    message_id = ports.notifier.publish(subject, body, {"kind": "approval-request"})
    return {"requestedAt": requested.isoformat(), "deadline": deadline.isoformat(), "notificationId": message_id}
