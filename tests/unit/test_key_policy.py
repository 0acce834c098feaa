"""Key policies: least privilege, idempotent extension, the 32 KB quota, and key scopes per strategy."""

from __future__ import annotations

import json

import pytest

from cmk_guard.core import key_policy
from cmk_guard.core.key_scope import key_scope
from cmk_guard.core.models import KeyStrategy, KnowledgeBaseFacts
from cmk_guard.errors import KeyPolicyError, KeySelectionError

ROLE = "arn:aws:iam::111122223333:role/service-role/kb-role"
OTHER = "arn:aws:iam::111122223333:role/service-role/other-kb-role"
MANAGER = "arn:aws:iam::111122223333:role/cmk-guard-KeyFunctionRole"
ROOT = "arn:aws:iam::111122223333:root"


def build(**overrides: object) -> dict:
    values = {
        "admins": [ROOT],
        "manager_role_arn": MANAGER,
        "inspector_role_arns": [],
        "key_user_role_arns": [ROLE],
        "region": "us-east-1",
    }
    values.update(overrides)
    return key_policy.build_key_policy(**values)


def statements(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_only_the_role_may_use_the_key_and_only_for_data_keys() -> None:
    policy = statements(build())
    use = policy[key_policy.USE_SID]
    assert use["Principal"] == {"AWS": ROLE}
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "Condition" not in use
    for sid, statement in policy.items():
        assert statement["Principal"] != "*" and "kms:*" not in statement["Action"], sid
        if sid != key_policy.USE_SID:
            assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"} & set(statement["Action"])


def test_via_service_condition_only_when_asked() -> None:
    use = statements(build(via_service_condition=True))[key_policy.USE_SID]
    assert use["Condition"] == {"StringEquals": {"kms:ViaService": "bedrock.us-east-1.amazonaws.com"}}


def test_manager_can_extend_the_policy_later() -> None:
    manager = statements(build())[key_policy.MANAGER_SID]
    assert manager["Principal"] == {"AWS": MANAGER}
    assert {"kms:GetKeyPolicy", "kms:PutKeyPolicy"} <= set(manager["Action"])


def test_adding_a_role_is_idempotent() -> None:
    policy = build()
    once, changed = key_policy.with_key_user(policy, OTHER, region="us-east-1")
    twice, changed_again = key_policy.with_key_user(once, OTHER, region="us-east-1")
    assert changed and not changed_again
    assert key_policy.key_users(twice) == {ROLE, OTHER}
    assert once == twice


def test_a_foreign_policy_gets_a_use_statement_appended() -> None:
    foreign = {"Version": "2012-10-17", "Statement": {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}}
    policy = key_policy.parse_policy(json.dumps(foreign))
    updated, changed = key_policy.with_key_user(policy, ROLE, region="us-east-1")
    assert changed and updated["Statement"][0]["Sid"] == "Root"
    assert key_policy.key_users(updated) == {ROLE}


@pytest.mark.parametrize("text", ["not json", "[]", '{"Version": "2012-10-17"}', None])
def test_unparseable_policies_are_refused(text: str | None) -> None:
    with pytest.raises(KeyPolicyError):
        key_policy.parse_policy(text)  # type: ignore[arg-type]


def test_the_32_kb_quota_is_enforced() -> None:
    roles = [f"arn:aws:iam::111122223333:role/service-role/kb-role-{i:05d}" for i in range(600)]
    with pytest.raises(KeyPolicyError, match="32768"):
        key_policy.render(build(key_user_role_arns=roles))


def facts(kb_id: str = "KB12345678", role: str = ROLE, tags: dict[str, str] | None = None, readable: bool = True) -> KnowledgeBaseFacts:
    return KnowledgeBaseFacts(
        knowledge_base_id=kb_id, name="n", arn=f"arn:aws:bedrock:us-east-1:111122223333:knowledge-base/{kb_id}",
        role_arn=role, type="VECTOR", status="ACTIVE", tags=tags or {}, tags_readable=readable,
    )


def alias(strategy: KeyStrategy, kb: KnowledgeBaseFacts) -> str | None:
    return key_scope(strategy, kb, "cmk-guard:key-group", None).alias


def test_per_knowledge_base_aliases_differ_per_knowledge_base() -> None:
    assert alias(KeyStrategy.PER_KNOWLEDGE_BASE, facts("KBAAAAAAAA")) != alias(KeyStrategy.PER_KNOWLEDGE_BASE, facts("KBBBBBBBBB"))


def test_per_role_shares_by_role_only() -> None:
    a, b, c = facts("KBAAAAAAAA"), facts("KBBBBBBBBB"), facts("KBCCCCCCCC", role=OTHER)
    assert alias(KeyStrategy.PER_ROLE, a) == alias(KeyStrategy.PER_ROLE, b) != alias(KeyStrategy.PER_ROLE, c)


def test_per_tag_groups_never_collide_and_untagged_gets_its_own_key() -> None:
    group = lambda value: facts(tags={"cmk-guard:key-group": value})  # noqa: E731
    assert alias(KeyStrategy.PER_TAG, group("tenant-a")) == alias(KeyStrategy.PER_TAG, group("tenant-a"))
    # Values that sanitise to the same text still get different aliases.
    assert alias(KeyStrategy.PER_TAG, group("tenant a")) != alias(KeyStrategy.PER_TAG, group("tenant/a"))
    untagged = alias(KeyStrategy.PER_TAG, facts())
    assert untagged == alias(KeyStrategy.PER_KNOWLEDGE_BASE, facts())
    assert untagged != alias(KeyStrategy.PER_TAG, group("KB12345678"))


def test_per_tag_with_unreadable_tags_refuses_to_choose() -> None:
    with pytest.raises(KeySelectionError):
        key_scope(KeyStrategy.PER_TAG, facts(readable=False), "cmk-guard:key-group", None)


def test_existing_needs_a_key() -> None:
    with pytest.raises(KeySelectionError):
        key_scope(KeyStrategy.EXISTING, facts(), "cmk-guard:key-group", None)
