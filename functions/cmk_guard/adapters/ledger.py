"""The ledger (one DynamoDB table): event claims, per-data-source locks, previous configurations, outcomes.

Keys: ``pk`` is ``EVENT#<eventId>``, ``DS#<account>#<region>#<kb>#<ds>`` or ``KEYSCOPE#<account>#<region>#<alias>``;
``sk`` names the item kind.
``expiresAt`` (epoch seconds) is the table's TTL attribute.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from cmk_guard.adapters.aws import error_code, translated
from cmk_guard.core.models import Target

EVENT_CLAIM_TTL_SECONDS = 14 * 24 * 3600
OUTCOME_TTL_SECONDS = 400 * 24 * 3600


KEY_SCOPE_PREFIX = "KEYSCOPE#"  # the key function's IAM may write only items whose pk starts with this


def key_scope_key(account_id: str, region: str, alias: str) -> str:
    return f"{KEY_SCOPE_PREFIX}{account_id}#{region}#{alias}"


def data_source_key(target: Target) -> str:
    return f"DS#{target.account_id}#{target.region}#{target.knowledge_base_id}#{target.data_source_id}"


class Ledger:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _conditional_put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        try:
            with translated(f"PutItem {item['pk']['S']} {item['sk']['S']}"):
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def claim_event(self, event_id: str, execution_arn: str) -> bool:
        """``True`` for the first execution to see this CloudTrail event (and for that execution's retries)."""
        now = int(time.time())
        return self._conditional_put(
            {
                "pk": {"S": f"EVENT#{event_id}"},
                "sk": {"S": "CLAIM"},
                "executionArn": {"S": execution_arn},
                "claimedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + EVENT_CLAIM_TTL_SECONDS)},
            },
            "attribute_not_exists(pk) OR executionArn = :me",
            {":me": {"S": execution_arn}},
        )

    def acquire_lock(self, target: Target, execution_arn: str, ttl_seconds: int) -> bool:
        """One remediation per data source: re-entrant for the holder, taken over once expired."""
        now = int(time.time())
        return self._conditional_put(
            {
                "pk": {"S": data_source_key(target)},
                "sk": {"S": "LOCK"},
                "executionArn": {"S": execution_arn},
                "eventId": {"S": target.event_id},
                "lockedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + ttl_seconds)},
            },
            "attribute_not_exists(pk) OR executionArn = :me OR expiresAt < :now",
            {":me": {"S": execution_arn}, ":now": {"N": str(now)}},
        )

    def _lock_item(self, target: Target) -> dict[str, Any] | None:
        with translated("GetItem lock"):
            return self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": data_source_key(target)}, "sk": {"S": "LOCK"}},
                ConsistentRead=True,
            ).get("Item")

    def lock_holder(self, target: Target) -> str | None:
        item = self._lock_item(target)
        return item["executionArn"]["S"] if item else None

    def active_lock_holder(self, target: Target) -> str | None:
        """The execution holding the data source's lock, unless the lock has expired (then anyone may take it)."""
        item = self._lock_item(target)
        if not item or int(item.get("expiresAt", {}).get("N", "0")) < int(time.time()):
            return None
        return item["executionArn"]["S"]

    def latest_outcome(self, target: Target) -> dict[str, Any] | None:
        """The most recent outcome record of the data source, if any."""
        with translated("Query latest outcome"):
            items = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :outcome)",
                ExpressionAttributeValues={":pk": {"S": data_source_key(target)}, ":outcome": {"S": "OUTCOME#"}},
                ScanIndexForward=False,
                Limit=1,
            ).get("Items", [])
        return json.loads(items[0]["record"]["S"]) if items else None

    def release_lock(self, target: Target, execution_arn: str) -> None:
        """Release the lock if this execution holds it; a lock held by another execution is left alone."""
        try:
            with translated("DeleteItem lock"):
                self._client.delete_item(
                    TableName=self._table,
                    Key={"pk": {"S": data_source_key(target)}, "sk": {"S": "LOCK"}},
                    ConditionExpression="executionArn = :me",
                    ExpressionAttributeValues={":me": {"S": execution_arn}},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def claim_key_scope(self, scope_key: str, execution_arn: str, ttl_seconds: int) -> bool:
        """Claim the right to create the key of a scope (``key_scope_key``): ``False`` while another execution
        holds an unexpired claim. Re-entrant for the holder, so a retried key step can claim again."""
        now = int(time.time())
        return self._conditional_put(
            {
                "pk": {"S": scope_key},
                "sk": {"S": "CREATING"},
                "executionArn": {"S": execution_arn},
                "claimedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + ttl_seconds)},
            },
            "attribute_not_exists(pk) OR executionArn = :me OR expiresAt < :now",
            {":me": {"S": execution_arn}, ":now": {"N": str(now)}},
        )

    def release_key_scope(self, scope_key: str, execution_arn: str) -> None:
        """Release this execution's claim on a key scope; another execution's claim is left alone."""
        try:
            with translated(f"DeleteItem {scope_key}"):
                self._client.delete_item(
                    TableName=self._table,
                    Key={"pk": {"S": scope_key}, "sk": {"S": "CREATING"}},
                    ConditionExpression="executionArn = :me",
                    ExpressionAttributeValues={":me": {"S": execution_arn}},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def save_previous_configuration(self, target: Target, execution_arn: str, configuration: dict[str, Any]) -> None:
        now = int(time.time())
        with translated("PutItem previous configuration"):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": data_source_key(target)},
                    "sk": {"S": f"PREVIOUS#{now:012d}#{execution_arn.rsplit(':', 1)[-1]}"},
                    "executionArn": {"S": execution_arn},
                    "configuration": {"S": json.dumps(configuration, default=str, sort_keys=True)},
                    "savedAt": {"N": str(now)},
                },
            )

    def _outcome_item(self, pk: str, execution_arn: str, record: dict[str, Any], stamp: int) -> dict[str, Any]:
        now = int(time.time())
        return {
            "pk": {"S": pk},
            "sk": {"S": f"OUTCOME#{stamp:012d}#{execution_arn.rsplit(':', 1)[-1]}"},
            "executionArn": {"S": execution_arn},
            "outcome": {"S": str(record["outcome"])},
            "record": {"S": json.dumps(record, default=str, sort_keys=True)},
            "recordedAt": {"N": str(now)},
            "expiresAt": {"N": str(now + OUTCOME_TTL_SECONDS)},
        }

    def put_outcome(
        self, pk: str, execution_arn: str, record: dict[str, Any], *, stamp: int | None = None
    ) -> dict[str, Any] | None:
        """Write the execution's one outcome; ``stamp`` (the execution's start, epoch seconds) keeps the key the same
        when the record step is retried. Returns the item an earlier attempt already wrote, else ``None``."""
        item = self._outcome_item(pk, execution_arn, record, int(time.time()) if stamp is None else stamp)
        try:
            with translated("PutItem outcome"):
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException" and exc.response.get("Item"):
                return dict(exc.response["Item"])
            raise
        return None

    def note_notification(
        self, pk: str, execution_arn: str, record: dict[str, Any], stamp: int, message_id: str
    ) -> None:
        """Mark the outcome as notified, so a retried record step does not notify twice."""
        item = self._outcome_item(pk, execution_arn, record, stamp)
        item["notificationId"] = {"S": message_id}
        with translated("PutItem outcome notification"):
            self._client.put_item(TableName=self._table, Item=item)

    def items(self, pk: str) -> list[dict[str, Any]]:
        """Every ledger item of one partition (used by the CLI and the tests)."""
        with translated("Query ledger"):
            pages = self._client.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
            return [item for page in pages for item in page.get("Items", [])]
