"""The fix cmk-guard proposes for one non-compliant data source: the facts, and the text people read.

``plan_fix`` turns the key scope (the same ``key_scope`` the key step uses) and what KMS says about the key behind it
into a JSON-able proposal. ``describe`` renders it; the approval e-mail, the approval page and the notify-mode
notification all use ``describe``, so they always say the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.core.models import KeyStrategy

if TYPE_CHECKING:
    from cmk_guard.core.key_scope import KeyScope
    from cmk_guard.core.models import KeyFacts

KEY_USE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
SHARING = {
    KeyStrategy.PER_KNOWLEDGE_BASE: "one key per knowledge base, shared by its data sources",
    KeyStrategy.PER_ROLE: "one key per service role, shared by knowledge bases with the same role",
    KeyStrategy.PER_TAG: "one key per key group, shared by knowledge bases of the same group and never by others",
    KeyStrategy.EXISTING: "the key configured in ExistingKeyArn",
}
LABEL_WIDTH = 18


def unusable_reason(facts: KeyFacts) -> str | None:
    """Why a key cannot take the data source (the key step refuses the same keys), or ``None``."""
    if facts.key_manager != "CUSTOMER":
        return f"it is managed by {facts.key_manager or 'someone else'}, not by the customer"
    if facts.key_state != "Enabled":
        return f"it is {facts.key_state}"
    if facts.key_spec != "SYMMETRIC_DEFAULT":
        return f"it is a {facts.key_spec} key, not a symmetric encryption key"
    return None


def plan_fix(
    scope: KeyScope,
    key: KeyFacts | None,
    *,
    key_readable: bool,
    role_arn: str,
    admins: list[str],
    rotation_period_days: int,
    sync_after_update: bool,
) -> dict[str, Any]:
    """The proposal. ``key`` is the key behind the alias (or ``ExistingKeyArn``), ``None`` when there is none yet;
    ``key_readable`` is ``False`` when cmk-guard was not allowed to describe it."""
    plan: dict[str, Any] = {
        "strategy": scope.strategy.value,
        "scope": scope.scope,
        "keyUser": role_arn,
        "keyUseActions": list(KEY_USE_ACTIONS),
        "admins": list(admins),
        "syncAfterUpdate": sync_after_update,
    }
    if scope.alias:
        plan["alias"] = scope.alias
    if scope.existing_key_arn:
        plan["keyArn"] = scope.existing_key_arn
    if not key_readable:
        plan["keyAction"] = "reuse"
        plan["note"] = "cmk-guard may not describe the key behind it; the key step checks it before using it"
        return plan
    if key is None:
        if scope.existing_key_arn:
            plan["keyAction"] = "blocked"
            plan["blocker"] = f"ExistingKeyArn {scope.existing_key_arn} does not exist"
            return plan
        plan["keyAction"] = "create"
        plan["rotationPeriodDays"] = rotation_period_days
        return plan
    plan["keyArn"] = key.arn
    plan["keyState"] = key.key_state
    problem = unusable_reason(key)
    if problem:
        plan["keyAction"] = "blocked"
        where = f"the key behind {scope.alias}" if scope.alias else f"ExistingKeyArn {key.arn}"
        plan["blocker"] = f"{where} cannot be used: {problem}"
        return plan
    plan["keyAction"] = "reuse"
    return plan


def _key_step(proposal: dict[str, Any]) -> str:
    strategy = KeyStrategy(proposal["strategy"])
    sharing = SHARING[strategy]
    action = proposal.get("keyAction")
    if action == "create":
        return (
            f"create a new customer-managed KMS key with alias {proposal.get('alias')} "
            f"({strategy.value} strategy: {sharing}), "
            f"symmetric, automatic rotation every {proposal.get('rotationPeriodDays')} days"
        )
    if action == "blocked":
        return f"none can be used: {proposal.get('blocker')}"
    if action == "decide-in-member-account":
        alias = proposal.get("alias") or proposal.get("keyArn") or "the configured key"
        return (
            f"select or create the key {alias} in account {proposal.get('account')} "
            f"({strategy.value} strategy: {sharing}); the key step decides there, when the fix runs"
        )
    parts = ["reuse the existing key"]
    if proposal.get("keyArn"):
        parts.append(proposal["keyArn"])
    parts.append(f"behind alias {proposal['alias']}" if proposal.get("alias") else "(ExistingKeyArn)")
    parts.append(f"({strategy.value} strategy: {sharing})")
    note = f"; {proposal['note']}" if proposal.get("note") else ""
    return " ".join(parts) + note


def _users_step(proposal: dict[str, Any]) -> str:
    actions = " and ".join(proposal.get("keyUseActions") or KEY_USE_ACTIONS)
    admins = ", ".join(proposal.get("admins") or []) or "the account root"
    if proposal.get("keyAction") == "create":
        return (
            f"only the knowledge base's service role {proposal['keyUser']} ({actions}); "
            f"key administrators {admins} may manage the key but never use it"
        )
    return (
        f"the knowledge base's service role {proposal['keyUser']} is added to the key's use statement ({actions}) "
        "if it is not there already; nothing else in the key policy changes"
    )


def description(state: dict[str, Any], *, would: bool = False) -> list[tuple[str, str]]:
    """Where, why and what, as (label, text) items; an item without text is a heading.

    ``would`` words the plan as what cmk-guard would do (notify mode) instead of what happens once approved.
    """
    target = state.get("target") or {}
    check = state.get("check") or {}
    kb = check.get("knowledgeBase") or {}
    proposal = state.get("proposal") or {}
    kb_text = f"{kb.get('name')} ({kb.get('knowledgeBaseId')})" if kb else target.get("knowledgeBaseId", "?")
    confirm = (
        "start an ingestion job on the new key and look for the role's KMS calls in CloudTrail"
        if proposal.get("syncAfterUpdate", True)
        else "look for the role's KMS calls in CloudTrail after your next sync"
    )
    return [
        ("Account", str(target.get("accountId", "?"))),
        ("Region", str(target.get("region", "?"))),
        ("Knowledge base", kb_text),
        ("Data source", str(target.get("dataSourceId", "?"))),
        ("Why", f"{check.get('reason')}: {check.get('detail')}"),
        ("What cmk-guard would do (notify mode changes nothing)" if would else "What happens if you approve", ""),
        ("1. Key", _key_step(proposal)),
        ("2. Key users", _users_step(proposal)),
        (
            "3. Update",
            "UpdateDataSource sets serverSideEncryptionConfiguration.kmsKeyArn to that key; every other setting is "
            "sent back unchanged and the previous configuration is kept in the ledger",
        ),
        ("4. Confirm", confirm),
    ]


def render(items: list[tuple[str, str]]) -> list[str]:
    """Plain-text lines of a description: aligned labels, headings on their own line, steps indented."""
    lines = []
    for label, text in items:
        if not text:
            lines.append(f"{label}:")
        else:
            indent = "  " if label[:1].isdigit() else ""
            lines.append(f"{indent + label + ':':<{LABEL_WIDTH}}{text}")
    return lines


def describe(state: dict[str, Any], *, would: bool = False) -> list[str]:
    """The description as plain-text lines (e-mail and notifications)."""
    return render(description(state, would=would))
