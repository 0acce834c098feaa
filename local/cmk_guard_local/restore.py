"""``cmk-guard restore``: put a data source back as it was before cmk-guard changed it.

Reads the newest (or the named execution's) ``PREVIOUS#`` item of the data source from the ledger and prints the
``UpdateDataSource`` request that restores it; ``--apply`` sends it. It refuses to overwrite changes made since
(fields other than the key that differ from the saved configuration) unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import ValidationError

from cmk_guard.adapters.ledger import Ledger, data_source_key
from cmk_guard.core.models import Target
from cmk_guard.core.restore import drift_since, restore_request
from cmk_guard.errors import CmkGuardError

LEDGER_OUTPUT = "LedgerTableName"


def register(commands: Any) -> None:
    command = commands.add_parser(
        "restore",
        help="show (or with --apply perform) the UpdateDataSource that restores a data source's previous configuration",
        description=(
            "Print the UpdateDataSource that puts back the configuration cmk-guard saved in its ledger before "
            "updating the data source; --apply sends it. Refuses to undo changes made since, unless --force."
        ),
    )
    command.add_argument("--knowledge-base-id", required=True)
    command.add_argument("--data-source-id", required=True)
    command.add_argument("--region", help="the data source's region (default: the SDK's)")
    command.add_argument("--account-id", help="the data source's account (default: the caller's)")
    command.add_argument("--table", help="the ledger table (default: the LedgerTableName output of --stack-name)")
    command.add_argument("--stack-name", default="cmk-guard", help="cmk-guard's stack (default: cmk-guard)")
    command.add_argument("--execution", help="restore what this execution saved (default: the newest saved)")
    command.add_argument("--apply", action="store_true", help="send the UpdateDataSource (default: only print it)")
    command.add_argument("--force", action="store_true", help="restore even if other fields changed since")
    command.set_defaults(handler=run)


def _table(args: argparse.Namespace, session: boto3.session.Session) -> str:
    if args.table:
        return str(args.table)
    stacks = session.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == LEDGER_OUTPUT:
            return str(output["OutputValue"])
    raise CmkGuardError(f"stack {args.stack_name} has no {LEDGER_OUTPUT} output; pass --table")


def saved_configuration(ledger: Ledger, target: Target, execution: str | None) -> dict[str, Any]:
    """The configuration saved before cmk-guard's update (newest first, or the given execution's)."""
    items = [i for i in ledger.items(data_source_key(target)) if i["sk"]["S"].startswith("PREVIOUS#")]
    if execution:
        items = [i for i in items if i["executionArn"]["S"] == execution or i["sk"]["S"].endswith(f"#{execution}")]
    if not items:
        raise CmkGuardError(
            f"the ledger holds no saved configuration for {target.knowledge_base_id}/{target.data_source_id}"
            + (f" from execution {execution}" if execution else "")
        )
    newest = max(items, key=lambda i: i["sk"]["S"])
    return dict(json.loads(newest["configuration"]["S"]))


def run(args: argparse.Namespace) -> int:
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name or "us-east-1"
    account = args.account_id or session.client("sts").get_caller_identity()["Account"]
    try:
        target = Target(
            account_id=account,
            region=region,
            knowledge_base_id=args.knowledge_base_id,
            data_source_id=args.data_source_id,
            event_id="restore",
            event_name="UpdateDataSource",
            event_time="1970-01-01T00:00:00Z",
        )
    except ValidationError as exc:
        print(f"cmk-guard restore: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    try:
        ledger = Ledger(session.client("dynamodb"), _table(args, session))
        request = restore_request(saved_configuration(ledger, target, args.execution))
    except (CmkGuardError, ClientError) as exc:
        print(f"cmk-guard restore: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(request, indent=2, sort_keys=True, default=str))
    if not args.apply:
        print("(not applied: add --apply to send this UpdateDataSource)", file=sys.stderr)
        return 0
    try:
        return _apply(session, args, request)
    except ClientError as exc:
        print(f"cmk-guard restore: {exc}", file=sys.stderr)
        return 2


def _apply(session: boto3.session.Session, args: argparse.Namespace, request: dict[str, Any]) -> int:
    bedrock = session.client("bedrock-agent")
    current = bedrock.get_data_source(knowledgeBaseId=args.knowledge_base_id, dataSourceId=args.data_source_id)
    drift = drift_since(request, current["dataSource"])
    if drift and not args.force:
        print(
            f"cmk-guard restore: {drift} changed since the configuration was saved; restoring would undo that. "
            "Re-run with --force to restore anyway.",
            file=sys.stderr,
        )
        return 3
    bedrock.update_data_source(**request)
    print(
        "restored. cmk-guard sees this UpdateDataSource like any other: tag the knowledge base "
        "cmk-guard:mode=notify (or exempt) first if it should stay as it was.",
        file=sys.stderr,
    )
    return 0
