"""Cold start: each handler's import and client creation, as a ratio to a bare boto3 baseline, side by side.

For every function in ``template.yaml`` a fresh interpreter imports the handler module and creates the clients its
role may use (the services named by the actions of its IAM role); the baseline interpreter only imports boto3 and
creates the same clients. Runs alternate (baseline, handler, baseline, ...) so drift hits both; medians are reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from cmk_guard_local.template import functions, load_template

ROOT = Path(__file__).resolve().parents[3]
# IAM action prefix -> boto3 service name (only those whose client the functions create).
SERVICES = {"bedrock": "bedrock-agent", "kms": "kms", "dynamodb": "dynamodb", "sns": "sns", "states": "stepfunctions",
            "cloudtrail": "cloudtrail", "sts": "sts", "cloudwatch": "cloudwatch"}
PROBE = """
import time
t0 = time.perf_counter()
{imports}
import boto3
for service in {services!r}:
    boto3.client(service, region_name="us-east-1")
print(time.perf_counter() - t0)
"""


def _actions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["Action"]] if isinstance(node.get("Action"), str) else list(node.get("Action") or [])
        return [a for a in found if isinstance(a, str)] + [a for v in node.values() for a in _actions(v)]
    if isinstance(node, list):
        return [a for v in node for a in _actions(v)]
    return []


def handler_services(template: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Function logical id -> (handler module, services its role's actions reach)."""
    resources = template["Resources"]
    result: dict[str, tuple[str, list[str]]] = {}
    for logical_id, spec in functions(template).items():
        role_id = spec["role"]["Fn::GetAtt"][0]
        prefixes = {a.split(":")[0] for a in _actions(resources[role_id].get("Properties", {}).get("Policies", []))}
        result[logical_id] = (spec["handler"].rpartition(".")[0], sorted(SERVICES[p] for p in prefixes if p in SERVICES))
    return result


def _time(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions"), "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd="/")
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int = 7) -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    rows: dict[str, Any] = {}
    for logical_id, (module, services) in handler_services(template).items():
        bare, handler = [], []
        for _ in range(runs):
            bare.append(_time(PROBE.format(imports="", services=services)))
            handler.append(_time(PROBE.format(imports=f"import {module}", services=services)))
        rows[logical_id] = {
            "module": module,
            "clients": services,
            "baselineMedianMs": round(statistics.median(bare) * 1000, 1),
            "handlerMedianMs": round(statistics.median(handler) * 1000, 1),
            "ratio": round(statistics.median(handler) / statistics.median(bare), 2),
            "runs": runs,
        }
    return rows


if __name__ == "__main__":
    import json

    print(json.dumps(measure(3), indent=1))
