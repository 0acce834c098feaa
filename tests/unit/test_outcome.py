"""Outcomes, metrics and notifications are pure functions of the workflow state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmk_guard.core.models import Outcome
from cmk_guard.core.outcome import decide_outcome, failure_reason
from cmk_guard.core.report import metric_points, notification
from cmk_guard.core.verification import is_access_denied, is_key_use, next_wait_seconds

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/service-role/kb-role"
TARGET = {
    "accountId": "111122223333", "region": "us-east-1", "knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678",
    "eventId": "e-1", "eventName": "CreateDataSource", "eventTime": "2026-11-29T06:00:00+00:00",
}


def remediated(found: bool) -> dict:
    return {
        "target": TARGET,
        "check": {"verdict": "NON_COMPLIANT", "reason": "AWS_OWNED_KEY", "mode": "auto"},
        "key": {"keyArn": KEY, "created": True, "keyUsers": [ROLE]},
        "apply": {"applied": True, "appliedAt": "2026-11-29T06:00:42+00:00"},
        "ingestion": {"jobId": "J1", "status": "COMPLETE"},
        "verification": {"found": found, "foundAt": "2026-11-29T06:07:00+00:00" if found else None, "events": []},
    }


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (remediated(True), Outcome.REMEDIATED_VERIFIED),
        (remediated(False), Outcome.REMEDIATED_UNVERIFIED),
        ({**remediated(True), "error": {"Error": "TransientError", "Cause": "x"}}, Outcome.FAILED),
        ({**remediated(True), "ingestion": {"jobId": "J1", "status": "FAILED"}}, Outcome.FAILED),
        ({"check": {"verdict": "COMPLIANT"}}, Outcome.ALREADY_COMPLIANT),
        ({"check": {"verdict": "SKIPPED"}}, Outcome.SKIPPED),
        ({"check": {"verdict": "UNKNOWN"}}, Outcome.UNKNOWN),
        ({"check": {"verdict": "NON_COMPLIANT", "mode": "notify"}}, Outcome.NOTIFIED),
        ({"check": {"verdict": "NON_COMPLIANT", "mode": "approval"}, "approval": {"decision": "rejected"}}, Outcome.APPROVAL_REJECTED),
        ({"check": {"verdict": "NON_COMPLIANT", "mode": "approval"}, "approval": {"decision": "expired"}}, Outcome.APPROVAL_EXPIRED),
        ({"check": {"verdict": "NON_COMPLIANT", "mode": "auto"}}, Outcome.FAILED),
        ({}, Outcome.FAILED),
        ({"check": {"verdict": "garbage"}}, Outcome.FAILED),
    ],
)
def test_outcomes(state: dict, outcome: Outcome) -> None:
    assert decide_outcome(state) is outcome


def test_failure_reason_unwraps_the_lambda_error() -> None:
    state = {"error": {"Error": "ResourceGoneError", "Cause": '{"errorType": "ResourceGoneError", "errorMessage": "gone: DS1"}'}}
    assert failure_reason(state) == "ResourceGoneError: gone: DS1"


def test_times_run_from_the_cloudtrail_event_time() -> None:
    points = {p.name: p for p in metric_points(remediated(True), Outcome.REMEDIATED_VERIFIED)}
    assert points["TimeToRemediateSeconds"].value == 42
    assert points["TimeToVerifySeconds"].value == 420
    assert points["Remediations"].dimensions == (("Outcome", "REMEDIATED_VERIFIED"),)
    assert points["NonCompliantDetected"].value == 1
    assert all(p.dimensions in ((), (("Outcome", "REMEDIATED_VERIFIED"),)) for p in points.values())


def test_notification_names_the_key_and_its_users() -> None:
    subject, body = notification(remediated(True), Outcome.REMEDIATED_VERIFIED, None, "arn:exec")
    assert subject == "cmk-guard REMEDIATED_VERIFIED: KB12345678/DS12345678"
    assert KEY in body and ROLE in body and "arn:exec" in body


def kms_record(**overrides: object) -> dict:
    record = {
        "eventSource": "kms.amazonaws.com", "eventName": "GenerateDataKey", "eventTime": "2026-11-29T06:05:00Z",
        "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"arn": ROLE}}},
        "resources": [{"ARN": KEY, "type": "AWS::KMS::Key"}],
    }
    record.update(overrides)
    return record


APPLIED = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (kms_record(), True),
        (kms_record(userIdentity={"type": "AWSService", "invokedBy": "bedrock.amazonaws.com"}), True),
        (kms_record(errorCode="AccessDenied"), False),
        (kms_record(resources=[{"ARN": KEY.replace("1234abcd", "ffffffff")}]), False),
        (kms_record(userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob"}), False),
        (kms_record(eventTime="2026-11-29T05:00:00Z"), False),
        (kms_record(eventName="DescribeKey"), False),
    ],
)
def test_what_counts_as_key_use(record: dict, expected: bool) -> None:
    assert is_key_use(record, key_arn=KEY, role_arn=ROLE, not_before=APPLIED) is expected


def test_access_denied_is_recognised() -> None:
    assert is_access_denied(kms_record(errorCode="AccessDenied"), key_arn=KEY)
    assert not is_access_denied(kms_record(), key_arn=KEY)


def test_backoff_grows_and_is_capped() -> None:
    assert [next_wait_seconds(a, 60, 600) for a in range(6)] == [60, 120, 240, 480, 600, 600]
    assert timedelta(seconds=next_wait_seconds(0, 1, 2)).total_seconds() == 1
