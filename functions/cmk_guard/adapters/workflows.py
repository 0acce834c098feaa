"""Step Functions: start the remediate workflow for a data source the sweep found."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from cmk_guard.adapters.aws import error_code, translated
from cmk_guard.core.sweep import execution_arn_for


class Workflows:
    def __init__(self, client: Any) -> None:
        self._client = client

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """Start an execution named ``name``; ``(arn, False)`` when an execution of that name already exists
        (a retried start: the name is unique to the sweep and the data source)."""
        try:
            with translated(f"StartExecution {name}"):
                response = self._client.start_execution(
                    stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
                )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return execution_arn_for(state_machine_arn, name), False
            raise
        return str(response["executionArn"]), True
