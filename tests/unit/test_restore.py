"""The way back: the restoring request puts the saved configuration back exactly, key included, and says what
changed since."""

from __future__ import annotations

import pytest

from cmk_guard.core.outcome import decide_outcome, outcome_reason
from cmk_guard.core.restore import drift_since, restore_command, restore_request
from cmk_guard.errors import UnsafeUpdateError

SAVED = {
    "knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678", "name": "docs", "description": "HR",
    "dataSourceConfiguration": {"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::acme"}},
    "dataDeletionPolicy": "RETAIN",
}


def test_the_request_is_the_saved_configuration_without_a_key_when_there_was_none() -> None:
    assert restore_request(SAVED) == SAVED


def test_a_saved_key_is_put_back_too() -> None:
    saved = {**SAVED, "serverSideEncryptionConfiguration": {"kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}}
    assert restore_request(saved)["serverSideEncryptionConfiguration"] == saved["serverSideEncryptionConfiguration"]


@pytest.mark.parametrize("missing", ["knowledgeBaseId", "dataSourceId", "name", "dataSourceConfiguration"])
def test_a_partial_saved_configuration_is_refused(missing) -> None:
    with pytest.raises(UnsafeUpdateError, match=missing):
        restore_request({k: v for k, v in SAVED.items() if k != missing})


def test_drift_names_fields_changed_since_but_not_the_key() -> None:
    current = {**SAVED, "description": "edited", "serverSideEncryptionConfiguration": {"kmsKeyArn": "k"}}
    assert drift_since(SAVED, current) == ["description"]


def test_a_failed_ingestion_after_the_update_reports_the_restore_command() -> None:
    state = {
        "target": {"region": "us-east-1", "knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678"},
        "check": {"verdict": "NON_COMPLIANT", "mode": "auto"},
        "apply": {"applied": True},
        "ingestion": {"jobId": "J1", "status": "FAILED", "failureReasons": ["KMS AccessDenied"]},
        "repair": {"repaired": False, "cause": "the key is Disabled; cmk-guard does not re-enable or replace it"},
    }
    outcome = decide_outcome(state)
    reason = outcome_reason(state, outcome)
    assert outcome.value == "FAILED"
    assert "the key is Disabled" in reason
    assert f"{restore_command('us-east-1', 'KB12345678', 'DS12345678')} --apply" in reason
