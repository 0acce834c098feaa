"""Which refused KMS calls count as KmsAccessDenied: access errors on keys cmk-guard manages, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from cmk_guard.config import load_settings
from cmk_guard.core.key_denials import denied_key_call, is_cmk_guard_key
from cmk_guard.errors import AccessDeniedError, ResourceGoneError
from cmk_guard.steps.denials import run_denials

ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
OTHER = KEY.replace("1234abcd", "ffffffff")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/kb-role"


def event(**record: Any) -> dict[str, Any]:
    detail = {
        "eventSource": "kms.amazonaws.com", "eventName": "GenerateDataKey", "eventTime": "2026-11-29T06:05:00Z",
        "eventID": "e-1", "errorCode": "AccessDenied", "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"arn": ROLE}}},
        "requestParameters": {"keyId": KEY, "keySpec": "AES_256"},
        "resources": [{"ARN": KEY, "type": "AWS::KMS::Key", "accountId": ACCOUNT}],
    }
    detail.update(record)
    return {"source": "aws.kms", "account": ACCOUNT, "region": "us-east-1", "detail": detail}


def test_a_refused_call_names_the_key_the_call_and_the_caller() -> None:
    call = denied_key_call(event())
    assert call is not None
    assert (call.key_arn, call.event_name, call.error_code, call.principal) == (KEY, "GenerateDataKey", "AccessDenied", ROLE)
    assert (call.account_id, call.region) == (ACCOUNT, "us-east-1")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"resources": None}, KEY),  # the key from the request when CloudTrail lists no resource
        ({"resources": None, "requestParameters": {"keyId": KEY_ID}}, KEY),  # a bare key id: this account and region
        ({"resources": None, "requestParameters": {"keyId": "alias/cmk-guard/kb/KB12345678"}}, None),
        ({"resources": None, "requestParameters": None}, None),  # CreateKey, ListKeys: no key to attribute
        ({"errorCode": "AccessDeniedException"}, KEY),
        ({"errorCode": "DisabledException"}, None),  # not an access error
        ({"errorCode": None}, None),
        ({"eventSource": "s3.amazonaws.com"}, None),
    ],
)
def test_what_is_a_refused_call_on_a_key(changes: dict, key: str | None) -> None:
    call = denied_key_call(event(**changes))
    assert (call.key_arn if call else None) == key


def test_not_an_eventbridge_event() -> None:
    assert denied_key_call({"detail": "x"}) is None and denied_key_call({}) is None


@pytest.mark.parametrize(
    ("aliases", "existing", "ours"),
    [
        (["alias/cmk-guard/kb/KB12345678"], None, True),
        (["alias/team-key", "alias/cmk-guard/group/tenant-a-1a2b3c"], None, True),
        (["alias/team-key"], None, False),
        (["alias/cmk-guardian/kb/x"], None, False),  # the prefix ends with a slash
        ([], KEY, True),
        ([], OTHER, False),
    ],
)
def test_whose_key(aliases: list[str], existing: str | None, ours: bool) -> None:
    assert is_cmk_guard_key(KEY, aliases, existing) is ours


class FakeKms:
    def __init__(self, aliases: list[str] | Exception) -> None:
        self._aliases = aliases
        self.asked: list[str] = []

    def aliases(self, key_arn: str) -> list[str]:
        self.asked.append(key_arn)
        if isinstance(self._aliases, Exception):
            raise self._aliases
        return list(self._aliases)


def settings(**environment: str) -> Any:
    return load_settings({"LEDGER_TABLE_NAME": "ledger", **environment})


def test_a_refusal_on_a_cmk_guard_key_is_counted_from_cloudtrail() -> None:
    kms = FakeKms(["alias/cmk-guard/kb/KB12345678"])
    result, points = run_denials(event(), settings(), lambda region: kms)
    assert result["counted"] is True and result["keyArn"] == KEY and result["principal"] == ROLE
    assert [(p.name, p.value, p.dimensions) for p in points] == [("KmsAccessDenied", 1, (("Source", "CloudTrail"),))]
    assert kms.asked == [KEY]


def test_a_refusal_on_someone_elses_key_is_not_counted() -> None:
    result, points = run_denials(event(), settings(), lambda region: FakeKms(["alias/team-key"]))
    assert (result["counted"], points) == (False, [])


def test_the_existing_key_counts_without_a_lookup() -> None:
    kms = FakeKms(AssertionError("no lookup needed"))
    result, points = run_denials(event(), settings(KEY_STRATEGY="existing", EXISTING_KEY_ARN=KEY), lambda r: kms)
    assert result["counted"] is True and len(points) == 1 and kms.asked == []


def test_the_existing_key_is_not_cmk_guards_under_another_strategy() -> None:
    kms = FakeKms(["alias/team-key"])
    result, _ = run_denials(event(), settings(KEY_STRATEGY="per-role", EXISTING_KEY_ARN=KEY), lambda r: kms)
    assert result["counted"] is False


def test_a_key_of_another_account_is_never_looked_up() -> None:
    kms = FakeKms(AssertionError("ListAliases cannot see another account's keys"))
    foreign = KEY.replace(ACCOUNT, "444455556666")
    result, points = run_denials(event(resources=[{"ARN": foreign, "type": "AWS::KMS::Key"}]), settings(), lambda r: kms)
    assert (result["counted"], result["why"], points) == (False, "a key of another account", [])


def test_a_deleted_key_is_not_counted() -> None:
    result, points = run_denials(event(), settings(), lambda r: FakeKms(ResourceGoneError("gone")))
    assert (result["counted"], result["why"], points) == (False, "the key no longer exists", [])


def test_a_refused_lookup_fails_the_invocation_rather_than_guessing() -> None:
    # Whose key it is cannot be told: an error (Lambda retries, its Errors metric shows), never a silent "not ours".
    with pytest.raises(AccessDeniedError):
        run_denials(event(), settings(), lambda r: FakeKms(AccessDeniedError("ListAliases: AccessDenied")))
