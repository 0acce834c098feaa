"""cmk-guard's sweep on the emulated account: the real ``statemachine/sweep.asl.json`` with the real handlers.

``EmulatedSweep`` creates the sweep state machine of ``template.yaml`` next to a deployed ``EmulatedStack`` (with
the template's substitutions, the remediate state machine's ARN included) and starts it the way its schedule does:
an execution named by EventBridge, with the scheduled event as input. A listener on the in-process Lambda runtime
keeps, per evaluation invocation, the findings it logged, so tests can compare verdicts and count the work each
invocation did.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cmk_guard_local import lambda_runtime
from cmk_guard_local.stack import ROOT
from cmk_guard_local.template import resolve, state_machine

if TYPE_CHECKING:
    from cmk_guard_local.stack import EmulatedStack

LOGICAL_ID = "SweepStateMachine"


@dataclass
class Invocation:
    """One run of a sweep function: which, the findings it logged (evaluation only), its event, result and lines."""

    function: str
    findings: list[dict[str, Any]]
    errored: bool
    lines: list[str]
    event: Any
    result: Any


@dataclass
class SweepRun:
    execution_arn: str
    status: str
    summary: dict[str, Any]


@dataclass
class EmulatedSweep:
    stack: EmulatedStack
    invocations: list[Invocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        resource = self.stack.template["Resources"][LOGICAL_ID]["Properties"]
        spec = state_machine(self.stack.template, LOGICAL_ID)
        substitutions = {k: str(resolve(v, self.stack.refs)) for k, v in spec["substitutions"].items()}
        text = (ROOT / spec["definition_uri"]).read_text()
        definition = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: substitutions[m.group(1)], text)
        self.name = str(resolve(resource["Name"], self.stack.refs))
        role = self.stack.client("iam").create_role(RoleName=f"{self.name}-states", AssumeRolePolicyDocument="{}")
        self.arn = self.stack.client("stepfunctions").create_state_machine(
            name=self.name, definition=definition, roleArn=role["Role"]["Arn"], type=resource.get("Type", "STANDARD")
        )["stateMachineArn"]
        resources = self.stack.template["Resources"]
        self.functions = {self.stack.refs[k]: k for k in resources if k.startswith("Sweep") and k.endswith("Function")}
        lambda_runtime.on_invoke(self._record)

    def _record(self, function: lambda_runtime.LocalFunction, event: Any, result: Any, lines: list[str]) -> None:
        logical_id = self.functions.get(function.name)
        if logical_id is None:
            return
        findings = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == "evaluated" and "finding" in entry:
                findings.append(entry["finding"])
        errored = isinstance(result, dict) and "errorType" in result and "stackTrace" in result
        with self._lock:
            self.invocations.append(Invocation(logical_id, findings, errored, list(lines), event, result))

    def scheduled_event(self) -> dict[str, Any]:
        """What the template's Schedule event delivers (no Input is set, so the scheduled event itself)."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.stack.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.stack.region,
            "resources": [f"arn:aws:events:{self.stack.region}:{self.stack.account_id}:rule/{self.name}-schedule"],
            "detail": {},
        }

    def start(self) -> str:
        return self.stack.client("stepfunctions").start_execution(
            stateMachineArn=self.arn, name=str(uuid.uuid4()), input=json.dumps(self.scheduled_event())
        )["executionArn"]

    def run(self, timeout: float = 300) -> SweepRun:
        """Start a sweep and wait for it; the summary is the execution's output."""
        execution_arn = self.start()
        description = self.stack.wait(execution_arn, timeout)
        output = json.loads(description.get("output") or "{}")
        return SweepRun(execution_arn, description["status"], output)

    def findings(self) -> list[dict[str, Any]]:
        """Every finding the evaluation invocations logged, in order."""
        return [f for i in self.of("SweepEvaluateFunction") for f in i.findings]

    def of(self, logical_id: str) -> list[Invocation]:
        """The invocations of one sweep function (``SweepStartFunction``...), in order."""
        with self._lock:
            return [i for i in self.invocations if i.function == logical_id]

    def metrics(self) -> list[dict[str, Any]]:
        """The EMF documents the report step printed, latest sweep last."""
        documents = []
        for invocation in self.of("SweepReportFunction"):
            for line in invocation.lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and "_aws" in entry:
                    documents.append(entry)
        return documents

    def reset(self) -> None:
        with self._lock:
            self.invocations.clear()
