"""``make demo``: cmk-guard's whole workflow on the emulated account, told as a timeline.

1. A data source is created without a key: cmk-guard creates a key, updates the data source, confirms the fix.
2. A data source already on a customer-managed key is left untouched.
3. A data source of an exempt knowledge base is skipped.
4. Approval mode: the e-mail, the page (GET shows), the decision (POST), the fix.
"""

from __future__ import annotations

import os

os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import json  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402

from cmk_guard_local import lambda_runtime  # noqa: E402,F401
from cmk_guard_local.approval_demo import round_trip  # noqa: E402
from cmk_guard_local.emulator import EmulatedAccount, acting_as  # noqa: E402
from cmk_guard_local.report import collect, duration  # noqa: E402
from cmk_guard_local.scenario import Estate, vector_ingestion_configurations  # noqa: E402
from cmk_guard_local.stack import EmulatedStack  # noqa: E402

ADMIN = "arn:aws:iam::123456789012:user/alice"
WIDTH = 100


def heading(text: str) -> None:
    print(f"\n{'=' * WIDTH}\n{text}\n{'=' * WIDTH}")


def step(label: str, text: str) -> None:
    first, *rest = str(text).splitlines() or [""]
    print(f"  {label:<14} {first}")
    for line in rest:
        print(f"  {'':<14} {line}")


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def key_story(region: str, key: dict[str, Any]) -> str:
    kms = boto3.client("kms", region_name=region)
    policy = json.loads(kms.get_key_policy(KeyId=key["keyArn"], PolicyName="default")["Policy"])
    lines = [f"{key['keyArn']}", f"alias {key.get('alias', '-')}, {'created' if key['created'] else 'reused'}, "
             f"rotation every {key.get('rotationPeriodDays', '?')} days"]
    for statement in policy["Statement"]:
        principal = statement["Principal"]["AWS"]
        principals = ", ".join(principal if isinstance(principal, list) else [principal])
        actions = statement["Action"]
        summary = ", ".join(actions) if len(actions) <= 3 else f"{len(actions)} administration actions (no Encrypt/Decrypt)"
        lines.append(f"{statement['Sid']}: {principals} -> {summary}")
    return "\n".join(lines)


def timeline(stack: EmulatedStack, execution_arn: str) -> None:
    history = stack.history(execution_arn)
    start = history[0]["timestamp"]
    names = []
    for event in history:
        details = event.get("stateEnteredEventDetails")
        if details:
            names.append(f"{details['name']} (+{(event['timestamp'] - start).total_seconds():.1f}s)")
    step("states", " -> ".join(names))


def tell(stack: EmulatedStack, execution_arn: str, before: dict[str, Any] | None = None) -> dict[str, Any]:
    stack.wait(execution_arn, timeout=120)
    state = stack.record_output(execution_arn)
    target, check = state["target"], state["check"]
    step("event", f"{target['eventName']} of {target['knowledgeBaseId']}/{target['dataSourceId']} at {target['eventTime']}")
    step("verdict", f"{check['verdict']} ({check['reason']}): {check['detail']}")
    step("mode", f"{check['mode']} (from {check['modeSource']})")
    if state.get("approval"):
        who = state["approval"].get("decidedBy") or {}
        step("approval", f"{state['approval']['decision']} by {who.get('name')} ({who.get('sourceIp')}) at {state['approval'].get('decidedAt')}")
    if "key" in state:
        step("key", key_story(stack.region, state["key"]))
    if state.get("apply", {}).get("applied") and before is not None:
        after = boto3.client("bedrock-agent", region_name=stack.region).get_data_source(
            knowledgeBaseId=target["knowledgeBaseId"], dataSourceId=target["dataSourceId"]
        )["dataSource"]
        fields = ("name", "description", "dataSourceConfiguration", "dataDeletionPolicy", "vectorIngestionConfiguration")
        same = [f for f in fields if json.dumps(before.get(f), sort_keys=True, default=str) == json.dumps(after.get(f), sort_keys=True, default=str)]
        step("update", f"serverSideEncryptionConfiguration: {before.get('serverSideEncryptionConfiguration', 'none (AWS-owned key)')}"
             f"\n  -> {after['serverSideEncryptionConfiguration']}\nunchanged: {', '.join(same)} ({len(same)}/{len(fields)})")
    if "ingestion" in state:
        step("ingestion", f"job {state['ingestion']['jobId']} {state['ingestion']['status']}")
    if "verification" in state:
        found = state["verification"].get("events") or []
        text = "\n".join(f"{e['eventName']} at {e['eventTime']} by {e['principal']}" for e in found) or "no KMS event yet"
        step("verification", text)
    step("outcome", state["record"]["outcome"])
    if state.get("apply", {}).get("appliedAt"):
        step("MTTR", f"{_seconds(target['eventTime'], state['apply']['appliedAt']):.1f}s from the CloudTrail event to the fix")
    timeline(stack, execution_arn)
    return state


def main() -> None:
    with EmulatedAccount() as account:
        stack = EmulatedStack(account).deploy()
        estate = Estate(account.region, account.account_id)
        heading("cmk-guard on an emulated AWS account (moto + cmk-guard's Bedrock and CloudTrail emulation)")
        step("template", f"{len(stack.template['Resources'])} resources read from template.yaml")
        step("state machine", stack.state_machine_arn)
        step("rule pattern", json.dumps(stack.event_pattern["detail"]["eventName"]))
        agent = boto3.client("bedrock-agent", region_name=account.region)

        heading("1. A data source created without a customer-managed key")
        with acting_as(ADMIN):
            role = estate.kb_role()
            kb = estate.knowledge_base("hr-handbook", role)
            ds = estate.data_source(
                kb["knowledgeBaseId"], "policies", description="HR policies",
                vector_ingestion=vector_ingestion_configurations(account.region)["fixed"], data_deletion_policy="RETAIN",
            )
        before = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
        first = tell(stack, stack.deliveries[0].execution_arn, before)
        final = agent.get_data_source(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
        step("final config", json.dumps(final["serverSideEncryptionConfiguration"]))
        own = [d for d in stack.deliveries if d.record["eventName"] == "UpdateDataSource"]
        step("no loop", f"cmk-guard's own UpdateDataSource event matched the rule: {any(d.matched for d in own)}")

        heading("2. A data source already on a customer-managed key")
        with acting_as(ADMIN):
            team_key = estate.customer_key([role], "finance team key")
            kb2 = estate.knowledge_base("finance", role)
            estate.data_source(kb2["knowledgeBaseId"], "ledgers", kms_key_arn=team_key)
        calls_before = len(account.calls)
        tell(stack, stack.deliveries[-1].execution_arn)
        roles = set(stack.role_arns.values())
        writes = [
            c for c in account.calls[calls_before:]
            if c.principal in roles and c.service in {"kms", "bedrock-agent"}
            and not c.operation.startswith(("Get", "Describe", "List"))
        ]
        step("writes", f"{len(writes)} KMS or Bedrock write calls by cmk-guard")

        heading("3. A data source of an exempt knowledge base")
        with acting_as(ADMIN):
            kb3 = estate.knowledge_base("sandbox", role, tags={"cmk-guard:mode": "exempt", "cmk-guard:exempt-reason": "throwaway experiments"})
            estate.data_source(kb3["knowledgeBaseId"], "scratch")
        tell(stack, stack.deliveries[-1].execution_arn)

        heading("4. Approval mode: a person approves on the page (tag cmk-guard:mode=approval)")
        approved = round_trip(stack, estate, ADMIN, step, tell)

        heading("Summary")
        for outcome in stack.outcomes():
            target = outcome.get("target", {})
            print(f"  {target.get('knowledgeBaseId')}/{target.get('dataSourceId')}  {outcome['outcome']:<22} {outcome.get('reason') or ''}"[:WIDTH])
        notes = stack.notifications()
        print(f"\n  {len(notes)} ops notification(s); the first one:\n")
        if notes:
            print("    Subject: " + str(notes[0]["subject"]))
            print("\n".join("    " + line for line in str(notes[0]["message"]).splitlines()))
        report = collect(stack)  # the ledger and the EMF metrics in the emulated CloudWatch Logs
        print()
        for label, distribution in (("MTTR (event -> key applied)", report.time_to_remediate),
                                    ("time to verify (event -> KMS use found)", report.time_to_verify)):
            figures = distribution.summary()
            print(f"  {label:<40} p50 {duration(figures['p50'])}, p90 {duration(figures['p90'])}, "
                  f"max {duration(figures['max'])} ({figures['count']} sample(s), from the CloudTrail eventTime)")
        stack.close()
        if first["record"]["outcome"] != "REMEDIATED_VERIFIED":
            raise SystemExit("the demo's main scenario did not end REMEDIATED_VERIFIED")
        if approved["record"]["outcome"] != "REMEDIATED_VERIFIED":
            raise SystemExit("the demo's approval round trip did not end REMEDIATED_VERIFIED")


if __name__ == "__main__":
    main()
