"""Approval and notify modes through the real state machine, with the approval page served by its real handler on a
local HTTP API (the routes read from template.yaml) and driven over HTTP like a browser, or a mail scanner, would."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest

from cmk_guard_local import lambda_runtime
from cmk_guard_local.emulator import Fault
from cmk_guard_local.template import functions

from .approval_helpers import (
    approval_item,
    approval_mails,
    callback_calls,
    entered_states,
    get,
    no_more_mails,
    post,
    request,
    status,
    task_token,
)
from .helpers import data_source, key_policy, outcome_for, writes_by_cmk_guard

SCANNER_AGENTS = [
    "Mozilla/5.0 (compatible; OneOutlook)",  # Safe Links
    "Mimecast-URL-Protect",
    "Proofpoint URL Defense",
]


def _use_principals(policy: dict) -> set[str]:
    statement = next(s for s in policy["Statement"] if s.get("Sid") == "CmkGuardKnowledgeBaseUse")
    principal = statement["Principal"]["AWS"]
    return {principal} if isinstance(principal, str) else set(principal)


def _lock(stack, target: dict) -> dict | None:
    pk = f"DS#{target['accountId']}#{target['region']}#{target['knowledgeBaseId']}#{target['dataSourceId']}"
    return (
        boto3.client("dynamodb", region_name=stack.region)
        .get_item(TableName=stack.ledger_table, Key={"pk": {"S": pk}, "sk": {"S": "LOCK"}}, ConsistentRead=True)
        .get("Item")
    )


@pytest.fixture
def approval_stack(make_stack):
    return make_stack(Mode="approval")


def _waiting(estate, stack, name: str = "handbook"):
    """A knowledge base with a data source created without a key; returns (kb, ds, execution, mail) once the
    workflow waits for a decision."""
    role = estate.kb_role()
    kb = estate.knowledge_base(name, role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    (mail,) = approval_mails(stack)
    execution = stack.deliveries[0].execution_arn
    assert status(stack, execution) == "RUNNING"
    assert entered_states(stack, execution)[-1] == "RequestApproval"
    return role, kb, ds, execution, mail


def test_approve_goes_ahead_exactly_as_in_auto_mode(account, estate, approval_stack) -> None:
    # GIVEN approval mode and a data source created without a key, waiting for a person
    role, kb, ds, execution, mail = _waiting(estate, approval_stack)
    assert writes_by_cmk_guard(account, approval_stack) == [], "nothing is written before the decision"
    # WHEN a person approves on the page
    answer = post(mail.link, {"decision": "approve", "name": "Dana Admin", "reason": "planned change"})
    # THEN the page confirms, and the workflow makes the same fix as auto mode, verified
    assert answer.status == 200 and "Approved" in answer.body
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    outcome = outcome_for(approval_stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_VERIFIED", outcome
    key_arn = outcome["key"]["keyArn"]
    assert (
        outcome["key"]["created"] is True and outcome["key"]["alias"] == f"alias/cmk-guard/kb/{kb['knowledgeBaseId']}"
    )
    assert data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])[
        "serverSideEncryptionConfiguration"
    ] == {"kmsKeyArn": key_arn}
    assert _use_principals(key_policy(account.region, key_arn)) == {role}
    assert boto3.client("kms", region_name=account.region).get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]
    assert outcome["ingestion"]["status"] == "COMPLETE"
    # ... and records who approved, as far as the page can tell
    approval = outcome["approval"]
    assert approval["decision"] == "approved"
    assert approval["decidedBy"] == {
        "name": "Dana Admin",
        "sourceIp": "127.0.0.1",
        "userAgent": approval["decidedBy"]["userAgent"],
    }
    assert approval["decidedBy"]["userAgent"].startswith("Mozilla/5.0 (X11")
    states = entered_states(approval_stack, execution)
    assert states.index("RequestApproval") < states.index("ProvisionKey") < states.index("ApplyKey")
    assert _lock(approval_stack, outcome["target"]) is None, "the lock is released"
    record_lines = lambda_runtime.lookup("cmk-guard-RecordFunction").log_lines
    assert any('"ApprovalWaitSeconds"' in line for line in record_lines), "the wait is a metric"
    propose_lines = lambda_runtime.lookup("cmk-guard-ProposeFunction").log_lines
    requested = [json.loads(line) for line in propose_lines if '"ApprovalsRequested"' in line]
    assert len(requested) == 1 and requested[0]["ApprovalsRequested"] == [1.0], "the request is counted once"


def test_reject_writes_nothing_and_records_reason_and_who(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    answer = post(mail.link, {"decision": "reject", "name": "Sam Owner", "reason": "tenant migrates next week"})
    assert answer.status == 200 and "Rejected" in answer.body
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    outcome = outcome_for(approval_stack, ds["dataSourceId"])
    assert outcome["outcome"] == "APPROVAL_REJECTED"
    assert "Sam Owner" in outcome["reason"] and "tenant migrates next week" in outcome["reason"]
    assert outcome["approval"]["decidedBy"]["name"] == "Sam Owner"
    assert outcome["approval"]["decidedBy"]["sourceIp"] == "127.0.0.1"
    assert outcome["approval"]["reason"] == "tenant migrates next week"
    # Nothing written to KMS or Bedrock, the data source still has no key, the lock is released
    assert writes_by_cmk_guard(account, approval_stack) == []
    after = data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])
    assert not (after.get("serverSideEncryptionConfiguration") or {}).get("kmsKeyArn")
    assert "ProvisionKey" not in entered_states(approval_stack, execution)
    assert _lock(approval_stack, outcome["target"]) is None
    # The ledger's approval item keeps the decision; the ops topic is told
    item = approval_item(approval_stack, mail.approval_id)
    assert item["decision"]["S"] == "rejected" and "taskToken" not in item
    (note,) = approval_stack.notifications()
    assert note["subject"].startswith("cmk-guard APPROVAL_REJECTED") and "tenant migrates next week" in note["message"]


def test_expiry_records_approval_expired_writes_nothing_and_the_link_stops_working(account, estate, make_stack) -> None:
    stack = make_stack(env={"APPROVAL_TIMEOUT_HOURS": "0.0005"}, Mode="approval")  # 2 seconds
    _, kb, ds, execution, mail = _waiting(estate, stack)
    assert stack.wait(execution, timeout=60)["status"] == "SUCCEEDED"
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "APPROVAL_EXPIRED"
    assert outcome["approval"]["decision"] == "expired"
    assert "nothing was changed" in outcome["reason"]
    assert writes_by_cmk_guard(account, stack) == []
    assert _lock(stack, outcome["target"]) is None
    (note,) = stack.notifications()
    assert note["subject"].startswith("cmk-guard APPROVAL_EXPIRED")
    # A late click changes nothing
    assert get(mail.link).status == 410
    late = post(mail.link, {"decision": "approve", "name": "Late Larry"})
    assert late.status == 410 and "expired" in late.body.lower()
    assert "decidedAt" not in approval_item(stack, mail.approval_id)
    assert callback_calls(account) == []


def test_scanner_gets_decide_nothing(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    # WHEN mail scanners fetch the link, again and again, with GET and HEAD
    for agent in SCANNER_AGENTS * 3:
        answer = get(mail.link, **{"User-Agent": agent})
        assert answer.status == 200
        assert "Approve" in answer.body and "Reject" in answer.body and kb["name"] in answer.body
        assert request(mail.link, method="HEAD", headers={"User-Agent": agent}).status in {200, 404}
    # THEN nothing was decided: no callback, the workflow still waits, the request is open
    assert callback_calls(account) == []
    assert status(approval_stack, execution) == "RUNNING"
    assert entered_states(approval_stack, execution)[-1] == "RequestApproval"
    item = approval_item(approval_stack, mail.approval_id)
    assert "decidedAt" not in item and "taskToken" in item
    # ... and the person's own decision still works afterwards
    assert post(mail.link, {"decision": "approve", "name": "Dana Admin"}).status == 200
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    assert outcome_for(approval_stack, ds["dataSourceId"])["outcome"] == "REMEDIATED_VERIFIED"


def test_two_posts_make_one_decision(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    first = post(mail.link, {"decision": "approve", "name": "Dana Admin"})
    second = post(mail.link, {"decision": "reject", "name": "Sam Owner", "reason": "too late?"})
    assert first.status == 200
    assert second.status == 409 and "Already decided" in second.body and "Dana Admin" in second.body
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    outcome = outcome_for(approval_stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_VERIFIED" and outcome["approval"]["decidedBy"]["name"] == "Dana Admin"
    assert len(callback_calls(account)) == 1
    assert approval_item(approval_stack, mail.approval_id)["decision"]["S"] == "approved"
    assert get(mail.link).status == 409


def test_forged_or_altered_ids_find_nothing_and_decide_nothing(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    last = mail.approval_id[-1]
    altered = mail.approval_id[:-1] + ("A" if last != "A" else "B")
    forged = secrets.token_urlsafe(32)
    for approval_id in (altered, forged, mail.approval_id[:-1], mail.approval_id + "x", "..%2F..%2Fetc"):
        url = f"{mail.endpoint}/approvals/{approval_id}"
        assert get(url).status == 404
        answer = post(url, {"decision": "approve", "name": "Mallory"})
        assert answer.status == 404 and "not valid" in answer.body
    assert callback_calls(account) == []
    assert status(approval_stack, execution) == "RUNNING"
    assert "decidedAt" not in approval_item(approval_stack, mail.approval_id)
    assert post(mail.link, {"decision": "reject", "name": "Dana Admin"}).status == 200
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"


def test_cross_site_and_incomplete_posts_decide_nothing(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    forged_site = post(
        mail.link,
        {"decision": "approve", "name": "Mallory"},
        same_origin=False,
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged_site.status == 403
    null_origin = post(
        mail.link, {"decision": "approve", "name": "Mallory"}, same_origin=False, headers={"Origin": "null"}
    )
    assert null_origin.status == 403
    nameless = post(mail.link, {"decision": "approve", "name": "   "})
    assert nameless.status == 400 and 'role="alert"' in nameless.body and "<form" in nameless.body
    unknown_decision = post(mail.link, {"decision": "maybe", "name": "Dana"})
    assert unknown_decision.status == 400
    empty = post(mail.link, {})
    assert empty.status == 400
    assert callback_calls(account) == []
    assert "decidedAt" not in approval_item(approval_stack, mail.approval_id)
    assert status(approval_stack, execution) == "RUNNING"
    assert post(mail.link, {"decision": "approve", "name": "Dana Admin"}).status == 200
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"


def test_a_failed_hand_over_is_undone_so_the_person_can_try_again(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    account.faults.add(
        "stepfunctions",
        "SendTaskSuccess",
        Fault.ACCESS_DENIED,
        times=1,
        principal=approval_stack.role_arns["ApprovalPageFunctionRole"],
    )
    failed = post(mail.link, {"decision": "approve", "name": "Dana Admin"})
    assert failed.status == 503 and "nothing was decided" in failed.body
    item = approval_item(approval_stack, mail.approval_id)
    assert "decidedAt" not in item and "taskToken" in item, "the claim was undone"
    assert status(approval_stack, execution) == "RUNNING"
    assert post(mail.link, {"decision": "approve", "name": "Dana Admin"}).status == 200
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    assert outcome_for(approval_stack, ds["dataSourceId"])["outcome"] == "REMEDIATED_VERIFIED"


def test_no_approval_id_or_task_token_in_any_log(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    token = task_token(approval_stack, execution)
    get(mail.link)
    post(mail.link, {"decision": "approve", "name": "Dana Admin"})
    post(mail.link, {"decision": "approve", "name": "Dana Admin"})
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"
    names = [approval_stack.refs[logical_id] for logical_id in functions(approval_stack.template)]
    lines = [line for name in names for line in lambda_runtime.lookup(name).log_lines]
    lines += approval_stack.http_apis["ApprovalApi"].access_log
    assert len(lines) > 10, "the functions and the API did log"
    routes = {json.loads(line).get("route") for line in lines if line.startswith("{")}
    assert {"GET /approvals/{id}", "POST /approvals/{id}"} <= routes, "the logs name the route template"
    for line in lines:
        assert mail.approval_id not in line
        assert token not in line
    # The ledger keeps only the hash of the id, and gives the token up once decided
    items = boto3.client("dynamodb", region_name=approval_stack.region).scan(TableName=approval_stack.ledger_table)[
        "Items"
    ]
    dumped = json.dumps(items)
    assert mail.approval_id not in dumped and token not in dumped
    # The workflow's own history never sees the id (the request step's result names neither)
    history = json.dumps(approval_stack.history(execution), default=str)
    assert mail.approval_id not in history


def test_the_lock_holds_while_a_person_decides(account, estate, approval_stack) -> None:
    _, kb, ds, execution, mail = _waiting(estate, approval_stack)
    # Another change to the same data source while the first request waits
    agent = boto3.client("bedrock-agent", region_name=account.region)
    current = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])[
        "dataSource"
    ]
    agent.update_data_source(
        knowledgeBaseId=kb["knowledgeBaseId"],
        dataSourceId=ds["dataSourceId"],
        name=current["name"],
        description="edited",
        dataSourceConfiguration=current["dataSourceConfiguration"],
        **(
            {"vectorIngestionConfiguration": current["vectorIngestionConfiguration"]}
            if current.get("vectorIngestionConfiguration")
            else {}
        ),
    )
    lock = _lock(
        approval_stack,
        {
            "accountId": account.account_id,
            "region": account.region,
            "knowledgeBaseId": kb["knowledgeBaseId"],
            "dataSourceId": ds["dataSourceId"],
        },
    )
    held_for = int(lock["expiresAt"]["N"]) - int(lock["lockedAt"]["N"])
    assert held_for == 345600 + 72 * 3600, "the lock outlives the longest workflow plus the approval wait"
    second = approval_stack.deliveries[-1].execution_arn
    assert second != execution
    assert approval_stack.wait(second)["status"] == "SUCCEEDED"
    skipped = [o for o in approval_stack.outcomes() if o["executionArn"] == second]
    assert skipped[0]["outcome"] == "SKIPPED" and skipped[0]["check"]["reason"] == "REMEDIATION_IN_PROGRESS"
    assert no_more_mails(approval_stack), "only one request per data source at a time"
    assert post(mail.link, {"decision": "reject", "name": "Dana Admin"}).status == 200
    assert approval_stack.wait(execution)["status"] == "SUCCEEDED"


def test_notify_sends_the_same_description_without_a_link(account, estate, make_stack) -> None:
    stack = make_stack(Mode="notify")
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    stack.wait(stack.deliveries[0].execution_arn)
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "NOTIFIED"
    assert outcome["proposal"]["keyAction"] == "create"
    assert writes_by_cmk_guard(account, stack) == []
    (note,) = stack.notifications()
    assert "/approvals/" not in note["message"]
    assert f"alias/cmk-guard/kb/{kb['knowledgeBaseId']}" in note["message"]
    assert role in note["message"] and "kms:GenerateDataKey and kms:Decrypt" in note["message"]
    assert "What cmk-guard would do" in note["message"]
    assert no_more_mails(stack), "notify mode asks nobody"


def test_the_email_says_where_why_what_and_when(account, estate, make_stack) -> None:
    # A second knowledge base with the same role under per-role: the key exists already and is reused
    stack = make_stack(Mode="approval", KeyStrategy="per-role")
    role = estate.kb_role()
    first = estate.knowledge_base("first", role, tags={"cmk-guard:mode": "auto"})
    estate.data_source(first["knowledgeBaseId"], "docs")
    stack.wait(stack.deliveries[0].execution_arn)
    key_arn = stack.outcomes()[0]["key"]["keyArn"]
    kb = estate.knowledge_base("second", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    (mail,) = approval_mails(stack)
    body = mail.body
    for text in (
        account.account_id,
        account.region,
        "second",
        kb["knowledgeBaseId"],
        ds["dataSourceId"],
        "AWS_OWNED_KEY",
        f"reuse the existing key {key_arn}",
        "per-role strategy",
        role,
        "Deadline:",
    ):
        assert text in body, text
    assert "second" in mail.subject
    post(mail.link, {"decision": "reject", "name": "Dana Admin"})
    stack.wait(stack.deliveries[-1].execution_arn)


def test_a_key_that_cannot_be_used_is_not_put_to_a_vote(account, estate, approval_stack) -> None:
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)
    # The knowledge base's alias already points at a disabled key
    kms = boto3.client("kms", region_name=account.region)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/cmk-guard/kb/{kb['knowledgeBaseId']}", TargetKeyId=key_id)
    kms.disable_key(KeyId=key_id)
    ds = estate.data_source(kb["knowledgeBaseId"], "policies")
    approval_stack.wait(approval_stack.deliveries[0].execution_arn)
    outcome = outcome_for(approval_stack, ds["dataSourceId"])
    assert outcome["outcome"] == "FAILED" and "Disabled" in outcome["reason"]
    assert no_more_mails(approval_stack)
    assert writes_by_cmk_guard(account, approval_stack) == []
