"""cmk-guard deployed on the emulated account: the template's resources, the real state machine, real handlers.

``EmulatedStack`` reads ``template.yaml``: the ledger table's keys, the functions' handlers, roles and environment,
the state machine's definition and substitutions, and the EventBridge patterns. It creates what moto serves, runs
Lambda tasks in-process (``lambda_runtime``) and delivers each CloudTrail record the emulated account writes to the
state machine when the template's pattern matches it (moto's EventBridge does the matching). Rules that target a
function (the KMS access-denied rule) invoke it asynchronously, as EventBridge does, honouring the rule's state
(read-only events reach only ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`` rules). What the functions print goes
to their log groups in the emulated CloudWatch Logs (``lambda_logs``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cmk_guard_local import lambda_runtime
from cmk_guard_local.http_api import LocalHttpApi, routes
from cmk_guard_local.lambda_logs import LambdaLogs
from cmk_guard_local.template import event_rules, functions, load_template, parameters, resolve, state_machine

if TYPE_CHECKING:
    from cmk_guard_local.emulator import EmulatedAccount

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "cmk-guard"
# Short waits so a whole workflow runs in seconds; everything else comes from template.yaml unchanged.
FAST_TUNABLES = {
    "VERIFY_POLL_INITIAL_SECONDS": "1",
    "VERIFY_POLL_MAX_SECONDS": "2",
    "INGESTION_POLL_SECONDS": "1",
    "VERIFY_TIMEOUT_MINUTES": "0.5",
}
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"


def cap_retry_delays(definition: str, cap_seconds: int) -> str:
    """The definition with every retrier's ``IntervalSeconds`` and ``MaxDelaySeconds`` at most ``cap_seconds``.

    Only the waits shrink: which errors are retried, how many times (``MaxAttempts``), the backoff rate and the
    jitter strategy stay as written. A test-only option of ``EmulatedStack``, off by default.
    """
    if cap_seconds < 1:
        raise ValueError("Step Functions intervals are whole seconds, at least 1")
    document = json.loads(definition)

    def visit(states: dict[str, Any]) -> None:
        for state in states.values():
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = min(int(retrier.get("IntervalSeconds", 1)), cap_seconds)
                retrier["MaxDelaySeconds"] = min(int(retrier.get("MaxDelaySeconds", cap_seconds)), cap_seconds)
            for branch in state.get("Branches", []):
                visit(branch["States"])
            for nested in (state.get("Iterator"), state.get("ItemProcessor")):
                if nested:
                    visit(nested["States"])

    visit(document["States"])
    return json.dumps(document, indent=2)


def _reserved(value: Any, refs: dict[str, str]) -> int | None:
    """A function's ``ReservedConcurrentExecutions`` as a number (``None`` when the template sets none)."""
    if value is None:
        return None
    return int(resolve(value, refs))


@dataclass
class Delivery:
    """One CloudTrail record offered to the rule, and what came of it."""

    record: dict[str, Any]
    matched: bool
    execution_arn: str | None = None


@dataclass
class RuleInvocation:
    """One CloudTrail record a function's rule matched, and what the function returned (asynchronously)."""

    rule_id: str
    record: dict[str, Any]
    result: Any = None
    errored: bool = False


@dataclass
class EmulatedStack:
    account: EmulatedAccount
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    environment_overrides: dict[str, str] = field(default_factory=lambda: dict(FAST_TUNABLES))
    auto_deliver: bool = True
    deliver_to_functions: bool = True  # rules whose target is a function (independent of auto_deliver)
    template_path: Path = ROOT / "template.yaml"
    # Test-only: cap every Retry's IntervalSeconds and MaxDelaySeconds (moto's interpreter really sleeps them).
    # None (the default) runs the definition exactly as written; see cap_retry_delays.
    retry_delay_cap_seconds: int | None = None

    def __post_init__(self) -> None:
        self.template = load_template(self.template_path)
        self.region = self.account.region
        self.account_id = self.account.account_id
        self.refs: dict[str, str] = {}
        self.role_arns: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self.state_machine_arn = ""
        self.event_pattern: dict[str, Any] = {}
        self.ops_inbox_url = ""
        self.http_apis: dict[str, LocalHttpApi] = {}
        self.functions: dict[str, lambda_runtime.LocalFunction] = {}
        self.function_rules: list[dict[str, Any]] = []
        self.invocations: list[RuleInvocation] = []
        self._threads: list[threading.Thread] = []
        self.logs: LambdaLogs | None = None

    # -- deployment -------------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    def deploy(self) -> EmulatedStack:
        params = {**parameters(self.template), **self.parameter_overrides}
        self.refs.update(params)
        self.refs.update(
            {
                "AWS::AccountId": self.account_id,
                "AWS::Region": self.region,
                "AWS::Partition": "aws",
                "AWS::StackName": STACK_NAME,
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        self._create_roles()
        self._create_ledger()
        self._create_ops_topic()
        self._register_functions()
        self._start_http_apis()
        self._create_state_machine()
        self._capture_logs()
        self._wire_function_rules()
        self.account.cloudtrail.subscribe(self._on_record)
        return self

    def _resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v.get("Type") == kind}

    def _create_roles(self) -> None:
        iam = self.client("iam")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )
        for logical_id in self._resources("AWS::IAM::Role"):
            name = f"{STACK_NAME}-{logical_id}"[:64]
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            self.refs[logical_id] = name
            self.refs[f"{logical_id}.Arn"] = arn
            self.role_arns[logical_id] = arn

    def _create_ledger(self) -> None:
        logical_id, resource = next(iter(self._resources("AWS::DynamoDB::Table").items()))
        props = resource["Properties"]
        name = f"{STACK_NAME}-ledger"
        self.client("dynamodb").create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        self.refs[logical_id] = name
        self.refs[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"
        self.ledger_table = name

    def _create_ops_topic(self) -> None:
        sns, sqs = self.client("sns"), self.client("sqs")
        for logical_id in self._resources("AWS::SNS::Topic"):
            arn = sns.create_topic(Name=f"{STACK_NAME}-{logical_id}")["TopicArn"]
            self.refs[logical_id] = arn
            self.refs[f"{logical_id}.TopicArn"] = arn
            # An inbox that stands in for the e-mail subscription, so the demo and tests read what was sent.
            url = sqs.create_queue(QueueName=f"{STACK_NAME}-{logical_id}-inbox")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
            self.refs[f"{logical_id}.InboxUrl"] = url
        self.ops_inbox_url = self.refs.get("OpsTopic.InboxUrl", "")

    def _register_functions(self) -> None:
        environments: list[dict[str, str]] = []
        for logical_id, spec in functions(self.template).items():
            name = f"{STACK_NAME}-{logical_id}"
            arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
            self.refs[logical_id] = name
            self.refs[f"{logical_id}.Arn"] = arn
        for logical_id, spec in functions(self.template).items():
            role = resolve(spec["role"], self.refs)
            self.functions[logical_id] = lambda_runtime.LocalFunction(
                name=self.refs[logical_id],
                arn=self.refs[f"{logical_id}.Arn"],
                handler=spec["handler"],
                role_arn=role,
                timeout_seconds=int(spec["timeout"]),
                reserved_concurrency=_reserved(spec["reserved_concurrency"], self.refs),
            )
            lambda_runtime.register(self.functions[logical_id])
            environments.append({k: str(resolve(v, self.refs)) for k, v in spec["environment"].items()})
        merged: dict[str, str] = {}
        for environment in environments:
            for key, value in environment.items():
                if merged.setdefault(key, value) != value:
                    raise ValueError(f"functions disagree on {key}; the in-process runtime shares one environment")
        merged.update(self.environment_overrides)
        merged["AWS_REGION"] = self.region
        os.environ.update(merged)
        self.environment = merged

    def _start_http_apis(self) -> None:
        """Each AWS::Serverless::HttpApi is served on 127.0.0.1; its ApiEndpoint is that server's URL."""
        names = {logical_id: self.refs[logical_id] for logical_id in functions(self.template)}
        for logical_id in self._resources("AWS::Serverless::HttpApi"):
            api = LocalHttpApi(routes(self.template, logical_id), names, self.account_id).start()
            self.http_apis[logical_id] = api
            self.refs[logical_id] = api.api_id
            self.refs[f"{logical_id}.ApiEndpoint"] = api.endpoint

    def _create_state_machine(self) -> None:
        spec = state_machine(self.template, "RemediateStateMachine")
        text = (ROOT / spec["definition_uri"]).read_text()
        substitutions = {k: str(resolve(v, self.refs)) for k, v in spec["substitutions"].items()}
        definition = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: substitutions[m.group(1)], text)
        if self.retry_delay_cap_seconds is not None:
            definition = cap_retry_delays(definition, self.retry_delay_cap_seconds)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=f"{STACK_NAME}-remediate",
            definition=definition,
            roleArn=self.role_arns.get("RemediateStateMachineRole")
            or self.client("iam").create_role(RoleName=f"{STACK_NAME}-states", AssumeRolePolicyDocument="{}")["Role"]["Arn"],
            type="STANDARD",
        )["stateMachineArn"]
        self.refs["RemediateStateMachine"] = self.state_machine_arn
        self.event_pattern = resolve(spec["event_pattern"], self.refs)

    def _capture_logs(self) -> None:
        """Send what each function prints to its ``LoggingConfig.LogGroup`` (resolved from the template)."""
        groups: dict[str, str] = {}
        for logical_id, spec in functions(self.template).items():
            reference = spec["log_group"]
            resources = self.template["Resources"]
            if isinstance(reference, dict) and set(reference) == {"Ref"} and reference["Ref"] in resources:
                properties = resources[reference["Ref"]]["Properties"]
                groups[self.refs[logical_id]] = str(resolve(properties["LogGroupName"], self.refs))
        self.logs = LambdaLogs(self.account_id, self.region, groups)
        self.logs.create_groups()
        lambda_runtime.on_invoke(self.logs)

    def _wire_function_rules(self) -> None:
        self.function_rules = [
            {**rule, "pattern": resolve(rule["pattern"], self.refs), "function": self.functions[rule["target"]]}
            for rule in event_rules(self.template)
            if rule["target"] in self.functions
        ]

    # -- EventBridge ------------------------------------------------------------------------------------------
    @staticmethod
    def envelope(record: dict[str, Any]) -> dict[str, Any]:
        """The EventBridge event that carries a CloudTrail record."""
        service = str(record.get("eventSource", "")).split(".")[0]
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{service}",
            "account": record.get("recipientAccountId", ""),
            "time": record.get("eventTime", ""),
            "region": record.get("awsRegion", ""),
            "resources": [],
            "detail": record,
        }

    def matches(self, event: dict[str, Any]) -> bool:
        result = self.client("events").test_event_pattern(
            EventPattern=json.dumps(self.event_pattern), Event=json.dumps(event, default=str)
        )
        return bool(result["Result"])

    @staticmethod
    def rule_receives(rule: dict[str, Any], event: dict[str, Any]) -> bool:
        """Whether EventBridge hands ``event`` to ``rule``: its state admits the event, and moto's matcher (the one
        the emulated ``TestEventPattern`` uses, run in-process so no call is logged) matches its pattern."""
        from moto.events.models import EventPattern

        record = event.get("detail") or {}
        if rule["state"] not in {"ENABLED", ALL_MANAGEMENT_EVENTS}:
            return False
        if record.get("readOnly") and rule["state"] != ALL_MANAGEMENT_EVENTS:
            return False
        sources = (rule["pattern"] or {}).get("source")
        if isinstance(sources, list) and all(isinstance(s, str) for s in sources) and event["source"] not in sources:
            return False  # the common case, decided without the matcher
        return bool(EventPattern.load(json.dumps(rule["pattern"])).matches_event(event))

    def invoke_rules(self, record: dict[str, Any]) -> list[RuleInvocation]:
        """Offer a record to every rule that targets a function; each match invokes it asynchronously."""
        event = self.envelope(record)
        started = []
        for rule in self.function_rules:
            if self.rule_receives(rule, event):
                invocation = RuleInvocation(rule_id=rule["id"], record=record)
                thread = threading.Thread(target=self._invoke, args=(rule["function"], event, invocation), daemon=True)
                with self._lock:
                    self.invocations.append(invocation)
                    self._threads.append(thread)
                thread.start()
                started.append(invocation)
        return started

    @staticmethod
    def _invoke(function: lambda_runtime.LocalFunction, event: dict[str, Any], invocation: RuleInvocation) -> None:
        invocation.result, invocation.errored, _ = lambda_runtime.run(function, event)  # run() never raises

    def _on_record(self, record: dict[str, Any]) -> None:
        if self.deliver_to_functions and self.function_rules:
            self.invoke_rules(record)
        if not self.auto_deliver or record.get("eventSource") != "bedrock.amazonaws.com":
            return
        if record.get("eventName") not in {"CreateDataSource", "UpdateDataSource"}:
            return
        if (record.get("recipientAccountId"), record.get("awsRegion")) != (self.account_id, self.region):
            return  # the default bus sees its own account and region only (member.yaml forwards the others)
        self.deliver(record)

    def deliver(self, record: dict[str, Any], event: dict[str, Any] | None = None) -> Delivery:
        """Offer a record to the rule; on a match start the workflow as the rule's target would."""
        event = event or self.envelope(record)
        delivery = Delivery(record=record, matched=self.matches(event))
        if delivery.matched:
            delivery.execution_arn = self.start(event)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def start(self, event: Any) -> str:
        """Start an execution with a generated name, as an EventBridge target does."""
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=str(uuid.uuid4()),
            input=event if isinstance(event, str) else json.dumps(event, default=str),
        )["executionArn"]

    # -- observation ------------------------------------------------------------------------------------------
    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] in TERMINAL:
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {description['status']} after {timeout}s")
            time.sleep(0.05)

    def wait_all(self, timeout: float = 120) -> list[dict[str, Any]]:
        done = [self.wait(d.execution_arn, timeout) for d in list(self.deliveries) if d.execution_arn]
        self.wait_invocations(timeout)
        return done

    def wait_invocations(self, timeout: float = 60) -> list[RuleInvocation]:
        """Wait for every asynchronous function invocation started by a rule (including ones started meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [t for t in self._threads if t.is_alive()]
            if not pending:
                return list(self.invocations)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} rule invocation(s) still running after {timeout}s")
            pending[0].join(max(0.0, deadline - time.monotonic()))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def record_output(self, execution_arn: str) -> dict[str, Any]:
        """The state the execution ended with (its input to RecordOutcome plus the record result)."""
        for event in reversed(self.history(execution_arn)):
            details = event.get("stateExitedEventDetails")
            if details and details.get("name") == "RecordOutcome":
                return json.loads(details["output"])
        raise LookupError(f"execution {execution_arn} never left RecordOutcome")

    def outcomes(self) -> list[dict[str, Any]]:
        """Every outcome in the ledger, oldest first."""
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=self.ledger_table):
            items.extend(page["Items"])
        records = [json.loads(i["record"]["S"]) for i in items if i["sk"]["S"].startswith("OUTCOME#")]
        return sorted(records, key=lambda r: r["recordedAt"])

    def notifications(self) -> list[dict[str, Any]]:
        """Drain the ops inbox: each SNS message with its subject and body."""
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.ops_inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"subject": envelope.get("Subject"), "message": envelope.get("Message")})
                sqs.delete_message(QueueUrl=self.ops_inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def close(self) -> None:
        for api in self.http_apis.values():
            api.stop()
        lambda_runtime.clear()
