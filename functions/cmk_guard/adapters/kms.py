"""KMS: describe keys, create cmk-guard's keys, and read or extend key policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cmk_guard.adapters.aws import error_code, translated
from cmk_guard.core.models import KeyFacts
from cmk_guard.errors import ResourceGoneError

if TYPE_CHECKING:
    from collections.abc import Callable

POLICY_NAME = "default"
ORPHAN_DELETION_DAYS = 7


class Kms:
    def __init__(self, client: Any) -> None:
        self._client = client

    def describe_key(self, key_id: str) -> KeyFacts | None:
        """The key's facts, or ``None`` if it (or the alias) does not exist."""
        try:
            with translated(f"DescribeKey {key_id}"):
                metadata = self._client.describe_key(KeyId=key_id)["KeyMetadata"]
        except ResourceGoneError:
            return None
        return KeyFacts(
            arn=metadata["Arn"],
            key_manager=metadata.get("KeyManager", ""),
            key_state=metadata.get("KeyState", ""),
            key_spec=metadata.get("KeySpec", "SYMMETRIC_DEFAULT"),
            key_usage=metadata.get("KeyUsage", "ENCRYPT_DECRYPT"),
        )

    def create_key(self, *, policy: str, description: str, tags: dict[str, str]) -> str:
        with translated("CreateKey"):
            return self._client.create_key(
                Policy=policy,
                Description=description,
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
                Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(tags.items())],
            )["KeyMetadata"]["Arn"]

    def enable_rotation(self, key_arn: str, period_days: int) -> None:
        with translated(f"EnableKeyRotation {key_arn}"):
            self._client.enable_key_rotation(KeyId=key_arn, RotationPeriodInDays=period_days)

    def rotation_period(self, key_arn: str) -> int | None:
        with translated(f"GetKeyRotationStatus {key_arn}"):
            status = self._client.get_key_rotation_status(KeyId=key_arn)
        return int(status.get("RotationPeriodInDays") or 0) if status.get("KeyRotationEnabled") else None

    def create_alias(self, alias: str, key_arn: str) -> bool:
        """Point ``alias`` at the key; ``False`` if another workflow created the alias first."""
        try:
            with translated(f"CreateAlias {alias}"):
                self._client.create_alias(AliasName=alias, TargetKeyId=key_arn)
        except ClientError as exc:
            if error_code(exc) == "AlreadyExistsException":
                return False
            raise
        return True

    def get_policy(self, key_arn: str) -> str:
        with translated(f"GetKeyPolicy {key_arn}"):
            return self._client.get_key_policy(KeyId=key_arn, PolicyName=POLICY_NAME)["Policy"]

    def put_policy(self, key_arn: str, policy: str) -> None:
        with translated(f"PutKeyPolicy {key_arn}"):
            self._client.put_key_policy(KeyId=key_arn, PolicyName=POLICY_NAME, Policy=policy)

    def tags(self, key_arn: str) -> dict[str, str]:
        with translated(f"ListResourceTags {key_arn}"):
            tags = self._client.list_resource_tags(KeyId=key_arn).get("Tags", [])
        return {t["TagKey"]: t["TagValue"] for t in tags}

    def schedule_deletion(self, key_arn: str) -> None:
        with translated(f"ScheduleKeyDeletion {key_arn}"):
            self._client.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=ORPHAN_DELETION_DAYS)

    def aliases(self, key_arn: str) -> list[str]:
        """Alias names that point at the key (ListAliases is authorised by IAM alone, never by the key policy)."""
        names: list[str] = []
        with translated(f"ListAliases {key_arn}"):
            for page in self._client.get_paginator("list_aliases").paginate(KeyId=key_arn):
                names.extend(str(a["AliasName"]) for a in page.get("Aliases", []))
        return names


class KeyFactsOnce:
    """KMS adapters that describe each key at most once for this object's life (one sweep page).

    A knowledge base's data sources usually share one key: a page of 25 then costs one DescribeKey, not 25. Only
    answers are kept (a denied or throttled call is asked again), and nothing outlives the page, so a key disabled
    between two pages is seen.
    """

    def __init__(self, kms: Callable[[str], Kms]) -> None:
        self._kms = kms
        self._facts: dict[tuple[str, str], KeyFacts | None] = {}

    def __call__(self, region: str) -> Kms:
        return _DescribedOnce(self._kms(region), region, self._facts)


class _DescribedOnce(Kms):
    def __init__(self, inner: Kms, region: str, facts: dict[tuple[str, str], KeyFacts | None]) -> None:
        super().__init__(inner._client)
        self._region, self._facts = region, facts

    def describe_key(self, key_id: str) -> KeyFacts | None:
        if (self._region, key_id) not in self._facts:
            self._facts[(self._region, key_id)] = super().describe_key(key_id)
        return self._facts[(self._region, key_id)]
