"""A demo-like run on an emulated account: enough outcomes, MTTR samples and KMS denials for a report.

- eight data sources created without a key, each event reaching the rule late by a simulated CloudTrail delivery
  delay (``DELIVERY_DELAYS``: the record is delivered with its ``eventTime`` that far in the past), all remediated;
- one data source already on a customer-managed key, one in an exempt knowledge base, one in a notify-mode one;
- one whose new key refuses the knowledge base role (a Deny added by an administrator right after the key step):
  the confirming ingestion fails on the key, so ``FAILED`` and ``KmsAccessDenied`` from both sources;
- one whose KMS events CloudTrail never shows in time: ``REMEDIATED_UNVERIFIED``.

Everything runs through the real state machine and handlers (``EmulatedStack``); nothing here computes a metric.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from cmk_guard_local import lambda_runtime
from cmk_guard_local.emulator import EmulatedAccount, acting_as
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

ADMIN = "arn:aws:iam::{account}:user/alice"
# Seconds between each remediated data source's creation and its event reaching the rule (CloudTrail delivers in
# about 5 minutes on average, sometimes much later).
DELIVERY_DELAYS = (45, 80, 110, 150, 190, 240, 320, 470)


def late(record: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The record as the rule receives it ``seconds`` after the call: same call, ``eventTime`` that far back."""
    copied = copy.deepcopy(record)
    when = datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00")) - timedelta(seconds=seconds)
    copied["eventTime"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return copied


def _create_event(account: EmulatedAccount, data_source_id: str) -> dict[str, Any]:
    for record in reversed(account.cloudtrail.events):
        created = json.dumps(record.get("responseElements"))
        if record.get("eventName") == "CreateDataSource" and data_source_id in created:
            return record
    raise LookupError(f"no CreateDataSource record for {data_source_id}")


def _deny_role_after_key_step(region: str, knowledge_base_id: str, role_arn: str) -> lambda_runtime.InvokeListener:
    kms = boto3.client("kms", region_name=region)

    def listener(function: lambda_runtime.LocalFunction, event: Any, result: Any, lines: list[str]) -> None:
        if not function.name.endswith("-KeyFunction") or not isinstance(result, dict) or "keyArn" not in result:
            return
        if ((event.get("input") or {}).get("target") or {}).get("knowledgeBaseId") != knowledge_base_id:
            return
        policy = json.loads(kms.get_key_policy(KeyId=result["keyArn"], PolicyName="default")["Policy"])
        policy["Statement"].append({"Sid": "FreezeForAudit", "Effect": "Deny", "Principal": {"AWS": role_arn},
                                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"})
        with acting_as(ADMIN.format(account=role_arn.split(":")[4])):
            kms.put_key_policy(KeyId=result["keyArn"], PolicyName="default", Policy=json.dumps(policy))

    return listener


def run_showcase(account: EmulatedAccount, stack: EmulatedStack, timeout: float = 180) -> None:
    """Populate ``stack`` (deployed with ``auto_deliver=False``) with the scenarios above and wait for them."""
    if stack.auto_deliver:
        raise ValueError("deploy the stack with auto_deliver=False: the showcase delivers each event itself")
    estate = Estate(account.region, account.account_id)
    admin = ADMIN.format(account=account.account_id)
    with acting_as(admin):
        role = estate.kb_role()
        frozen_role = estate.kb_role("AmazonBedrockExecutionRoleForKnowledgeBase_audit")
        bases = [estate.knowledge_base(name, role)["knowledgeBaseId"] for name in ("handbook", "contracts", "wiki")]
        remediated = [
            estate.data_source(bases[i % 3], f"docs-{i}")["dataSourceId"] for i in range(len(DELIVERY_DELAYS))
        ]
        team_key = estate.customer_key([role], "finance team key")
        compliant_kb = estate.knowledge_base("finance", role)["knowledgeBaseId"]
        compliant = estate.data_source(compliant_kb, "ledgers", kms_key_arn=team_key)["dataSourceId"]
        exempt_kb = estate.knowledge_base("sandbox", role, tags={"cmk-guard:mode": "exempt",
                                                                 "cmk-guard:exempt-reason": "throwaway"})
        exempt = estate.data_source(exempt_kb["knowledgeBaseId"], "scratch")["dataSourceId"]
        notify_kb = estate.knowledge_base("research", role, tags={"cmk-guard:mode": "notify"})
        notified = estate.data_source(notify_kb["knowledgeBaseId"], "papers")["dataSourceId"]
        frozen_kb = estate.knowledge_base("audit", frozen_role)["knowledgeBaseId"]
        frozen = estate.data_source(frozen_kb, "evidence")["dataSourceId"]
        unverified_kb = estate.knowledge_base("archive", role)["knowledgeBaseId"]
        unverified = estate.data_source(unverified_kb, "scans")["dataSourceId"]

    lambda_runtime.on_invoke(_deny_role_after_key_step(account.region, frozen_kb, frozen_role))
    for data_source_id, delay in zip(remediated, DELIVERY_DELAYS, strict=True):
        stack.deliver(late(_create_event(account, data_source_id), delay))
    for data_source_id in (compliant, exempt, notified, frozen):
        stack.deliver(_create_event(account, data_source_id))
    stack.wait_all(timeout)

    # CloudTrail that never shows the KMS events in time (the verification window is shortened for the run).
    saved = os.environ.get("VERIFY_TIMEOUT_MINUTES")
    account.cloudtrail.delivery_delay_seconds = 3600
    os.environ["VERIFY_TIMEOUT_MINUTES"] = "0.05"
    try:
        stack.deliver(_create_event(account, unverified))
        stack.wait_all(timeout)
    finally:
        account.cloudtrail.delivery_delay_seconds = 0
        if saved is None:
            os.environ.pop("VERIFY_TIMEOUT_MINUTES", None)
        else:
            os.environ["VERIFY_TIMEOUT_MINUTES"] = saved


@contextmanager
def emulated_showcase() -> Iterator[tuple[EmulatedAccount, EmulatedStack]]:
    """An emulated account with cmk-guard deployed and the showcase run; the environment is restored after."""
    saved = dict(os.environ)
    for name, value in {"AWS_ACCESS_KEY_ID": "showcase", "AWS_SECRET_ACCESS_KEY": "showcase",
                        "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        os.environ.setdefault(name, value)
    moto_log = logging.getLogger("moto")
    level = moto_log.level
    moto_log.setLevel(logging.CRITICAL)  # moto's interpreter logs each failed execution; the outcomes say it better
    try:
        with EmulatedAccount() as account:
            stack = EmulatedStack(account, auto_deliver=False).deploy()
            try:
                run_showcase(account, stack)
                yield account, stack
            finally:
                stack.close()
    finally:
        moto_log.setLevel(level)
        os.environ.clear()
        os.environ.update(saved)
