"""The emulated account under concurrent callers, and faults scoped to one resource."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from cmk_guard_local.emulator import Fault

from .helpers import REGION


def test_dynamodb_reads_and_writes_from_many_threads_never_fail(acct) -> None:
    # GIVEN a table, written to and queried at the same time from ten threads (as the workflows and the sweep do)
    dynamodb = boto3.session.Session(region_name=REGION).client("dynamodb")
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    errors: list[str] = []

    def write() -> None:
        client = boto3.session.Session(region_name=REGION).client("dynamodb")
        for _ in range(150):
            client.put_item(TableName="ledger", Item={"pk": {"S": str(uuid.uuid4())}, "sk": {"S": "OUTCOME#1"}})

    def query() -> None:
        client = boto3.session.Session(region_name=REGION).client("dynamodb")
        for _ in range(150):
            try:
                client.query(
                    TableName="ledger",
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :o)",
                    ExpressionAttributeValues={":pk": {"S": "x"}, ":o": {"S": "OUTCOME#"}},
                )
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=write) for _ in range(5)] + [threading.Thread(target=query) for _ in range(5)]
    # WHEN they all run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN no call failed, and every write landed
    assert errors == []
    assert dynamodb.scan(TableName="ledger", Select="COUNT")["Count"] == 750


def test_a_fault_scoped_by_parameters_hits_only_that_resource(acct, bedrock) -> None:
    rule = acct.faults.add("bedrock-agent", "GetKnowledgeBase", Fault.ACCESS_DENIED, params={"knowledgeBaseId": "ABCDEFGHIJ"})
    with pytest.raises(ClientError) as denied:
        bedrock.get_knowledge_base(knowledgeBaseId="ABCDEFGHIJ")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as missing:
        bedrock.get_knowledge_base(knowledgeBaseId="KLMNOPQRST")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException", "another id goes through"
    assert rule.hits == 1
