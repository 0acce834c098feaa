"""Verdicts: every reason of design.md §3, and what cannot be read is never compliant."""

from __future__ import annotations

import pytest

from cmk_guard.core.models import DataSourceFacts, KeyFacts, KnowledgeBaseFacts, Mode, Reason, Verdict
from cmk_guard.core.modes import resolve_mode
from cmk_guard.core.verdict import evaluate, unknown

REGION = "us-east-1"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def kb(**overrides: object) -> KnowledgeBaseFacts:
    values = {
        "knowledge_base_id": "KB12345678",
        "name": "docs",
        "arn": "arn:aws:bedrock:us-east-1:111122223333:knowledge-base/KB12345678",
        "role_arn": "arn:aws:iam::111122223333:role/service-role/kb-role",
        "type": "VECTOR",
        "status": "ACTIVE",
    }
    values.update(overrides)
    return KnowledgeBaseFacts(**values)


def ds(**overrides: object) -> DataSourceFacts:
    values = {"data_source_id": "DS12345678", "name": "docs", "type": "S3", "status": "AVAILABLE"}
    values.update(overrides)
    return DataSourceFacts(**values)


def key(**overrides: object) -> KeyFacts:
    values = {"arn": KEY, "key_manager": "CUSTOMER", "key_state": "Enabled"}
    values.update(overrides)
    return KeyFacts(**values)


def test_enabled_customer_key_is_compliant() -> None:
    result = evaluate(REGION, kb(), ds(kms_key_arn=KEY), key(), Mode.AUTO)
    assert (result.verdict, result.reason) == (Verdict.COMPLIANT, Reason.CUSTOMER_MANAGED_KEY)


@pytest.mark.parametrize(
    ("key_facts", "reason"),
    [
        (None, Reason.KEY_NOT_FOUND),
        (key(key_manager="AWS"), Reason.AWS_MANAGED_KEY),
        (key(key_state="Disabled"), Reason.KEY_DISABLED),
        (key(key_state="PendingDeletion"), Reason.KEY_PENDING_DELETION),
        (key(key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT"), Reason.KEY_UNUSABLE),
        (key(key_state="PendingImport"), Reason.KEY_UNUSABLE),
        (key(arn=KEY.replace("us-east-1", "eu-west-1")), Reason.KEY_IN_OTHER_REGION),
    ],
)
def test_unusable_keys_are_non_compliant_with_their_reason(key_facts: KeyFacts | None, reason: Reason) -> None:
    result = evaluate(REGION, kb(), ds(kms_key_arn=KEY), key_facts, Mode.AUTO)
    assert (result.verdict, result.reason) == (Verdict.NON_COMPLIANT, reason)
    assert result.current_key_arn == KEY


def test_no_key_means_the_aws_owned_key() -> None:
    result = evaluate(REGION, kb(), ds(), None, Mode.AUTO)
    assert (result.verdict, result.reason) == (Verdict.NON_COMPLIANT, Reason.AWS_OWNED_KEY)


@pytest.mark.parametrize(
    ("knowledge_base", "data_source", "mode", "reason"),
    [
        (kb(), ds(), Mode.EXEMPT, Reason.EXEMPT),
        (kb(type="MANAGED"), ds(), Mode.AUTO, Reason.MANAGED_KNOWLEDGE_BASE),
        (kb(type="SQL"), ds(type="REDSHIFT_METADATA"), Mode.AUTO, Reason.NO_TRANSIENT_DATA_ENCRYPTION),
        (kb(status="DELETING"), ds(), Mode.AUTO, Reason.KNOWLEDGE_BASE_DELETING),
        (kb(), ds(status="DELETING"), Mode.AUTO, Reason.DATA_SOURCE_DELETING),
    ],
)
def test_skips(knowledge_base: KnowledgeBaseFacts, data_source: DataSourceFacts, mode: Mode, reason: Reason) -> None:
    result = evaluate(REGION, knowledge_base, data_source, None, mode)
    assert (result.verdict, result.reason) == (Verdict.SKIPPED, reason)


def test_exempt_reason_is_kept() -> None:
    result = evaluate(REGION, kb(), ds(), None, Mode.EXEMPT, "legal hold until 2027")
    assert "legal hold until 2027" in result.detail


def test_unknown_is_never_compliant() -> None:
    assert unknown("GetKnowledgeBase: AccessDeniedException").verdict is Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("tags", "mode", "source"),
    [
        ({}, Mode.AUTO, "stack"),
        ({"cmk-guard:mode": "notify"}, Mode.NOTIFY, "tag"),
        ({"cmk-guard:mode": " Exempt "}, Mode.EXEMPT, "tag"),
        ({"cmk-guard:mode": "yolo"}, Mode.APPROVAL, "fail-closed"),
        (None, Mode.APPROVAL, "fail-closed"),
    ],
)
def test_mode_resolution_fails_closed(tags: dict[str, str] | None, mode: Mode, source: str) -> None:
    decision = resolve_mode(Mode.AUTO, tags)
    assert (decision.mode, decision.source) == (mode, source)
