"""Approval requests in the ledger table: ``pk`` is ``APPROVAL#<sha256 of the id>``, ``sk`` is ``REQUEST``.

An item holds the task token until a decision claims it (the claim removes the token in the same conditional write),
the execution, the description shown on the page, the deadline and, once decided, the decision and who made it.
``expiresAt`` (the table's TTL) is the deadline plus a retention period, so an expired link still gets a clear page.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from cmk_guard.adapters.aws import error_code, translated

SORT_KEY = "REQUEST"
DECISION_FIELDS = ("decision", "decidedBy", "decidedAt", "reason")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values (JSON-encoded attributes decoded)."""
    plain: dict[str, Any] = {}
    for name, value in item.items():
        if "N" in value:
            plain[name] = int(value["N"])
        elif "S" in value:
            text = value["S"]
            plain[name] = json.loads(text) if name in {"description", "decidedBy", "target"} else text
    return plain


class ApprovalStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, pk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": SORT_KEY}}

    def put_request(
        self,
        pk: str,
        *,
        task_token: str,
        execution_arn: str,
        target: dict[str, Any],
        description: list[tuple[str, str]],
        requested_at: str,
        deadline: str,
        deadline_epoch: int,
        expires_at: int,
    ) -> None:
        with translated("PutItem approval request"):
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(pk),
                    "taskToken": {"S": task_token},
                    "executionArn": {"S": execution_arn},
                    "target": {"S": json.dumps(target, sort_keys=True)},
                    "description": {"S": json.dumps(description)},
                    "requestedAt": {"S": requested_at},
                    "deadline": {"S": deadline},
                    "deadlineEpoch": {"N": str(deadline_epoch)},
                    "expiresAt": {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def get(self, pk: str) -> dict[str, Any] | None:
        with translated("GetItem approval request"):
            item = self._client.get_item(TableName=self._table, Key=self._key(pk), ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def claim(
        self, pk: str, *, now_epoch: int, decision: str, decided_by: dict[str, str], decided_at: str, reason: str
    ) -> dict[str, Any] | None:
        """Record the decision and take the task token, once: only for an undecided request before its deadline.

        Returns the item as it was (task token included), or ``None`` when the condition failed (unknown, decided or
        expired: read the item to tell which).
        """
        names = {"#reason": "reason"}
        values: dict[str, Any] = {
            ":decision": {"S": decision},
            ":by": {"S": json.dumps(decided_by, sort_keys=True)},
            ":at": {"S": decided_at},
            ":now": {"N": str(now_epoch)},
            ":reason": {"S": reason},
        }
        try:
            with translated("UpdateItem approval decision"):
                response = self._client.update_item(
                    TableName=self._table,
                    Key=self._key(pk),
                    UpdateExpression=(
                        "SET decision = :decision, decidedBy = :by, decidedAt = :at, #reason = :reason REMOVE taskToken"
                    ),
                    ConditionExpression=(
                        "attribute_exists(pk) AND attribute_not_exists(decidedAt) AND deadlineEpoch > :now"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return _plain(response.get("Attributes") or {})

    def release(self, pk: str, *, task_token: str, decided_at: str) -> None:
        """Undo this page's claim (the workflow never got the decision): token back, decision gone."""
        try:
            with translated("UpdateItem approval release"):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(pk),
                    UpdateExpression="SET taskToken = :token REMOVE decision, decidedBy, decidedAt, #reason",
                    ConditionExpression="decidedAt = :at",
                    ExpressionAttributeNames={"#reason": "reason"},
                    ExpressionAttributeValues={":token": {"S": task_token}, ":at": {"S": decided_at}},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def record_handover(self, pk: str, status: str) -> None:
        """Whether the workflow took the decision (``delivered``) or no longer waited for it (``not-waiting``)."""
        with translated("UpdateItem approval handover"):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(pk),
                UpdateExpression="SET handover = :status",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":status": {"S": status}},
            )
