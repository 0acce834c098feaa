"""The sweep's steps against the emulated account: bounded pages, resumable cursors, fail-closed reads, and what
the start step refuses to start."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.retries.standard import ExponentialBackoff

from cmk_guard.adapters.aws import SDK_CONFIG
from cmk_guard.adapters.bedrock import BedrockAgent
from cmk_guard.adapters.kms import Kms
from cmk_guard.adapters.ledger import Ledger, data_source_key
from cmk_guard.core.models import Mode, Reason, Target
from cmk_guard.core.sweep import Cursor, KnowledgeBaseSweep, Pending, SweepContext
from cmk_guard.errors import TransientError
from cmk_guard.steps.sweep import evaluate_page, run_start
from cmk_guard_local.emulator import Fault

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:cmk-guard-remediate"


@pytest.fixture
def quick_sdk_backoff(monkeypatch):
    """The SDK's retry delays scaled down 50 times: the same attempts, in less time."""
    original = ExponentialBackoff.delay_amount
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: original(self, context) / 50)


def adapters(region: str) -> tuple[BedrockAgent, object]:
    bedrock = BedrockAgent(boto3.client("bedrock-agent", region_name=region, config=SDK_CONFIG))
    kms = Kms(boto3.client("kms", region_name=region, config=SDK_CONFIG))
    return bedrock, lambda _region: kms


@pytest.fixture
def knowledge_base(account, estate) -> tuple[str, list[str]]:
    role = estate.kb_role()
    key = estate.customer_key([role])
    kb = estate.knowledge_base("handbook", role)["knowledgeBaseId"]
    sources = [estate.data_source(kb, f"docs-{i}", kms_key_arn=key)["dataSourceId"] for i in range(7)]
    return kb, sources


def test_a_page_is_bounded_and_the_cursor_resumes_where_it_stopped(account, knowledge_base) -> None:
    kb, sources = knowledge_base
    bedrock, kms = adapters(account.region)
    budget = iter([True, False] * 20)  # time runs short after every second data source
    seen, cursor, calls = [], Cursor(), 0
    while cursor is not None:
        page = evaluate_page(bedrock, kms, account.region, kb, cursor, 3, Mode.AUTO, keep_going=lambda: next(budget))
        assert 1 <= len(page.findings) <= 2, "at most the page, and at least one data source per call"
        seen += [f.data_source_id for f in page.findings]
        cursor, calls = page.cursor, calls + 1
    assert seen == sources, "each data source once, in order"
    assert calls == 5  # pages of 3, 3 and 1, the first two cut in two by the time budget
    assert {f.verdict.value for f in evaluate_page(bedrock, kms, account.region, kb, Cursor(), 10, Mode.AUTO).findings} == {"COMPLIANT"}


def test_a_page_describes_its_shared_key_once_and_the_next_page_reads_it_again(account, knowledge_base) -> None:
    # GIVEN seven data sources of one knowledge base, all on one customer-managed key
    kb, sources = knowledge_base
    bedrock, kms = adapters(account.region)

    def describe_calls() -> int:
        return sum(1 for c in account.calls if (c.service, c.operation) == ("kms", "DescribeKey"))

    before = describe_calls()
    # WHEN a page of five is evaluated
    first = evaluate_page(bedrock, kms, account.region, kb, Cursor(), 5, Mode.AUTO)
    # THEN every data source is judged, and the shared key was described once
    assert [f.verdict.value for f in first.findings] == ["COMPLIANT"] * 5
    assert describe_calls() - before == 1
    # AND a key disabled before the next page is seen there, not answered from the first page
    key = bedrock.get_data_source(kb, sources[0])["serverSideEncryptionConfiguration"]["kmsKeyArn"]
    boto3.client("kms", region_name=account.region).disable_key(KeyId=key)
    second = evaluate_page(bedrock, kms, account.region, kb, first.cursor, 5, Mode.AUTO)
    assert [f.data_source_id for f in second.findings] == sources[5:]
    assert {f.verdict.value for f in second.findings} == {"NON_COMPLIANT"}
    assert describe_calls() - before == 2


def test_throttling_beyond_the_sdk_retries_raises_in_the_sweep_and_is_unknown_in_the_cli(account, knowledge_base, quick_sdk_backoff) -> None:
    kb, sources = knowledge_base
    bedrock, kms = adapters(account.region)
    account.faults.add("bedrock-agent", "GetDataSource", Fault.THROTTLE, params={"dataSourceId": sources[1]})
    with pytest.raises(TransientError, match="ThrottlingException"):
        evaluate_page(bedrock, kms, account.region, kb, Cursor(), 10, Mode.AUTO)
    lenient = evaluate_page(bedrock, kms, account.region, kb, Cursor(), 10, Mode.AUTO, strict=False)
    verdicts = {f.data_source_id: (f.verdict.value, f.detail) for f in lenient.findings}
    assert verdicts[sources[1]][0] == "UNKNOWN" and "ThrottlingException" in verdicts[sources[1]][1]
    assert sum(1 for v, _ in verdicts.values() if v == "COMPLIANT") == len(sources) - 1


def test_a_knowledge_base_deleted_since_it_was_listed_has_nothing_left(account, knowledge_base) -> None:
    kb, _ = knowledge_base
    boto3.client("bedrock-agent", region_name=account.region).delete_knowledge_base(knowledgeBaseId=kb)
    bedrock, kms = adapters(account.region)
    page = evaluate_page(bedrock, kms, account.region, kb, Cursor(), 10, Mode.AUTO)
    assert (page.findings, page.cursor) == ([], None)


class Recorder:
    """Stands in for Step Functions: records what would be started."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, state_machine_arn: str, name: str, payload: dict) -> tuple[str, bool]:
        self.started.append(payload["detail"]["dataSourceId"])
        return f"{state_machine_arn}:{name}", True


@pytest.fixture
def ledger(account) -> Ledger:
    dynamodb = boto3.client("dynamodb", region_name=account.region)
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Ledger(dynamodb, "ledger")


def _state(account, *pending: Pending) -> KnowledgeBaseSweep:
    sweep = SweepContext(sweep_id="s1", account_id=account.account_id, region=account.region)
    return KnowledgeBaseSweep(knowledge_base_id="KB12345678", sweep=sweep, pending=list(pending), start_needed=True)


def _pending(ds: str, mode: Mode = Mode.AUTO) -> Pending:
    return Pending(data_source_id=ds, reason=Reason.AWS_OWNED_KEY, mode=mode, observed_at=datetime.now(UTC))


def _target(account, ds: str) -> Target:
    return Target(account_id=account.account_id, region=account.region, knowledge_base_id="KB12345678",
                  data_source_id=ds, event_id="e", event_name="x", event_time=datetime.now(UTC))


def test_start_skips_locked_data_sources_but_not_expired_locks(account, ledger) -> None:
    ledger.acquire_lock(_target(account, "DSLOCKED01"), "arn:aws:states:us-east-1:123456789012:execution:r:other", 3600)
    ledger.acquire_lock(_target(account, "DSEXPIRED1"), "arn:aws:states:us-east-1:123456789012:execution:r:old", 60)
    expired = data_source_key(_target(account, "DSEXPIRED1"))
    boto3.client("dynamodb", region_name=account.region).update_item(
        TableName="ledger", Key={"pk": {"S": expired}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET expiresAt = :past", ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    workflows = Recorder()
    state, decisions = run_start(
        _state(account, _pending("DSLOCKED01"), _pending("DSEXPIRED1"), _pending("DSFREE0001")), MACHINE, ledger, workflows
    )
    assert workflows.started == ["DSEXPIRED1", "DSFREE0001"]
    assert (state.counts.started, state.counts.in_progress, state.pending, state.start_needed) == (2, 1, [], False)
    assert decisions[0]["holder"].endswith(":other")


def test_notify_mode_does_not_report_the_same_finding_twice(account, ledger) -> None:
    for ds in ("DSNOTIFIED", "DSNOWAUTO1"):
        record = {"outcome": "NOTIFIED", "check": {"reason": "AWS_OWNED_KEY"}}
        ledger.put_outcome(data_source_key(_target(account, ds)), "arn:x:1", record)
    workflows = Recorder()
    before = len(account.calls)
    pending = (_pending("DSNOTIFIED", Mode.NOTIFY), _pending("DSNEWFIND1", Mode.NOTIFY), _pending("DSNOWAUTO1"))
    state, _ = run_start(_state(account, *pending), MACHINE, ledger, workflows)
    assert workflows.started == ["DSNEWFIND1", "DSNOWAUTO1"], "a data source now in auto mode is fixed"
    assert (state.counts.started, state.counts.already_notified) == (2, 1)
    queries = [c for c in account.calls[before:] if c.operation == "Query"]
    assert len(queries) == 2, "the latest outcome is read for notify mode only"


def test_tags_read_at_once_on_a_built_arn_are_read_again_when_the_knowledge_base_reports_another(account, estate) -> None:
    from cmk_guard.steps.assess import read_knowledge_base

    # GIVEN a knowledge base tagged exempt, and an ARN built for it that is not the one it reports
    kb = estate.knowledge_base("handbook", estate.kb_role(), tags={"cmk-guard:mode": "exempt"})["knowledgeBaseId"]
    bedrock, _ = adapters(account.region)
    right = f"arn:aws:bedrock:{account.region}:{account.account_id}:knowledge-base/{kb}"
    wrong = right.replace(account.account_id, "111111111111")
    # WHEN it is read with each
    views = {arn: read_knowledge_base(bedrock, kb, Mode.AUTO, expected_arn=arn) for arn in (right, wrong)}
    # THEN both see its tags (the wrong ARN's answer is not used) and so its mode
    for arn, view in views.items():
        assert view.facts is not None and view.facts.tags == {"cmk-guard:mode": "exempt"}, arn
        assert view.decision is not None and view.decision.mode is Mode.EXEMPT, arn
    tag_reads = [c for c in account.calls if c.operation == "ListTagsForResource"]
    assert len(tag_reads) == 3, "one read on the right ARN; on the wrong one, one read there and one on the right ARN"
