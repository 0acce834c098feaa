"""The proposed fix: the same key scope as the key step, and what KMS says about the key behind it."""

from __future__ import annotations

import pytest

from cmk_guard.core.key_scope import key_scope
from cmk_guard.core.models import KeyFacts, KeyStrategy, KnowledgeBaseFacts
from cmk_guard.core.proposal import describe, description, plan_fix

KB = KnowledgeBaseFacts(
    knowledge_base_id="KB12345678",
    name="hr",
    arn="arn:aws:bedrock:us-east-1:123456789012:knowledge-base/KB12345678",
    role_arn="arn:aws:iam::123456789012:role/kb",
    type="VECTOR",
    status="ACTIVE",
    tags={"team": "a"},
)
EXISTING = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _facts(state: str = "Enabled", manager: str = "CUSTOMER", spec: str = "SYMMETRIC_DEFAULT") -> KeyFacts:
    return KeyFacts(arn=EXISTING, key_manager=manager, key_state=state, key_spec=spec)


def _plan(strategy: KeyStrategy, key: KeyFacts | None, readable: bool = True) -> dict:
    scope = key_scope(strategy, KB, "cmk-guard:key-group", EXISTING if strategy is KeyStrategy.EXISTING else None)
    return plan_fix(
        scope,
        key,
        key_readable=readable,
        role_arn=KB.role_arn,
        admins=["arn:aws:iam::123456789012:root"],
        rotation_period_days=180,
        sync_after_update=False,
    )


def test_no_key_yet_means_create_with_the_key_steps_alias() -> None:
    plan = _plan(KeyStrategy.PER_KNOWLEDGE_BASE, None)
    assert (plan["keyAction"], plan["alias"], plan["rotationPeriodDays"]) == (
        "create",
        "alias/cmk-guard/kb/KB12345678",
        180,
    )
    text = "\n".join(describe({"proposal": plan}))
    assert "every 180 days" in text and "after your next sync" in text


def test_an_enabled_key_behind_the_alias_is_reused() -> None:
    plan = _plan(KeyStrategy.PER_ROLE, _facts())
    assert (
        plan["keyAction"] == "reuse"
        and plan["keyArn"] == EXISTING
        and plan["alias"].startswith("alias/cmk-guard/role/kb-")
    )
    assert "is added to the key's use statement" in "\n".join(describe({"proposal": plan}))


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (_facts(state="Disabled"), "Disabled"),
        (_facts(state="PendingDeletion"), "PendingDeletion"),
        (_facts(manager="AWS"), "managed by AWS"),
        (_facts(spec="RSA_2048"), "RSA_2048"),
    ],
)
def test_an_unusable_key_blocks_the_fix(facts: KeyFacts, why: str) -> None:
    plan = _plan(KeyStrategy.PER_KNOWLEDGE_BASE, facts)
    assert plan["keyAction"] == "blocked" and why in plan["blocker"]


def test_existing_strategy_names_the_configured_key_or_blocks_if_it_is_gone() -> None:
    assert _plan(KeyStrategy.EXISTING, _facts())["keyAction"] == "reuse"
    gone = _plan(KeyStrategy.EXISTING, None)
    assert gone["keyAction"] == "blocked" and "does not exist" in gone["blocker"]


def test_a_key_cmk_guard_may_not_describe_is_reported_not_guessed() -> None:
    plan = _plan(KeyStrategy.PER_KNOWLEDGE_BASE, None, readable=False)
    assert plan["keyAction"] == "reuse" and "may not describe" in plan["note"]


class _KmsThatMustNotBeCalled:
    def describe_key(self, key_id: str) -> KeyFacts | None:
        raise AssertionError(f"described {key_id} in the wrong account")


@pytest.mark.parametrize(("home", "described"), [("111122223333", False), ("123456789012", True)])
def test_a_member_accounts_key_is_not_described_from_the_central_account(home: str, described: bool) -> None:
    from cmk_guard.config import Settings
    from cmk_guard.steps.propose import run_describe

    class _Kms:
        calls: list[str] = []

        def describe_key(self, key_id: str) -> KeyFacts | None:
            self.calls.append(key_id)
            return None

    settings = Settings.model_validate({"LEDGER_TABLE_NAME": "ledger", "HOME_ACCOUNT_ID": home})
    state = {
        "target": {
            "accountId": "123456789012", "region": "us-east-1", "knowledgeBaseId": "KB12345678",
            "dataSourceId": "DS12345678", "eventId": "e-1", "eventName": "CreateDataSource",
            "eventTime": "2026-11-29T06:00:00Z",
        },
        "check": {"mode": "notify", "knowledgeBase": KB.to_state()},
    }
    kms = _Kms() if described else _KmsThatMustNotBeCalled()
    proposal = run_describe(state, settings, kms)  # type: ignore[arg-type]
    if described:
        assert _Kms.calls == ["alias/cmk-guard/kb/KB12345678"]
        assert proposal["keyAction"] == "create"
    else:
        assert (proposal["keyAction"], proposal["account"]) == ("decide-in-member-account", "123456789012")
        text = " ".join(value for _, value in description({**state, "proposal": proposal}))
        assert "in account 123456789012" in text and "when the fix runs" in text
