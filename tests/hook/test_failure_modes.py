"""warn never refuses, fail refuses exactly the non-compliant: the hook's answers combined with the FailureMode that
template.yaml gives the hook for each value of EnablePreventiveHook.

What CloudFormation does with an answer is documented, not emulated: a SUCCESS lets the operation continue; a FAILED
answer stops it when the hook's FailureMode is FAIL and lets it continue with a warning when it is WARN (Hooks User
Guide, "Hooks concepts", Failure mode; CloudFormation API, HookResultSummary.FailureMode).
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from cmk_guard_local.template import conditions, resolve

from .requests import hook_request, properties


def proceeds(answer: dict[str, Any], failure_mode: str) -> bool:
    """Whether CloudFormation goes on provisioning the data source after this answer."""
    assert answer["hookStatus"] in {"SUCCESS", "FAILED"}, answer
    return answer["hookStatus"] == "SUCCESS" or failure_mode == "WARN"


def failure_mode(stack: Any) -> str | None:
    """The deployed hook's FailureMode, or None when the template creates no hook."""
    evaluated = conditions(stack.template, stack.refs)
    resource = stack.template["Resources"]["PreventiveHook"]
    if not evaluated[resource["Condition"]]:
        return None
    return resolve(resource["Properties"], stack.refs, evaluated)["FailureMode"]


def catalogue(estate: Any) -> dict[str, tuple[Any, bool]]:
    """Requests of every kind the hook answers, and whether each data source is acceptable as it stands."""
    role = estate.kb_role()
    kb = estate.knowledge_base("handbook", role)["knowledgeBaseId"]
    exempt = estate.knowledge_base("brochures", role, tags={"cmk-guard:mode": "exempt"})["knowledgeBaseId"]
    key = estate.customer_key()
    return {
        "no key": (hook_request(properties(kb)), False),
        "alias ARN": (hook_request(properties(kb, key=key.replace(key.split(":")[-1], "alias/team"))), False),
        "key in another region": (hook_request(properties(kb, key=key.replace(estate.region, "eu-west-1"))), False),
        "malformed resource": (hook_request(properties(kb, key=7)), False),
        "malformed request": ({"clientRequestToken": "t"}, False),
        "key ARN": (hook_request(properties(kb, key=key)), True),
        "unresolved key": (hook_request(properties(kb, key={"Fn::GetAtt": ["TeamKey", "Arn"]})), True),
        "exempt knowledge base": (hook_request(properties(exempt)), True),
        "REDSHIFT_METADATA": (hook_request(properties(kb, kind="REDSHIFT_METADATA")), True),
    }


def answers(stack: Any, requests: dict[str, tuple[Any, bool]]) -> dict[str, dict[str, Any]]:
    client = boto3.client("lambda", region_name=stack.region)
    result = {}
    for name, (request, _) in requests.items():
        response = client.invoke(FunctionName=stack.refs["HookFunction"], Payload=json.dumps(request).encode())
        assert "FunctionError" not in response, name
        result[name] = json.loads(response["Payload"].read())
    return result


def test_warn_mode_never_refuses(estate, make_stack) -> None:
    stack = make_stack(EnablePreventiveHook="warn")
    requests = catalogue(estate)
    mode = failure_mode(stack)
    assert mode == "WARN"
    for name, answer in answers(stack, requests).items():
        assert proceeds(answer, mode), name
        # the warning is still shown for everything that is not acceptable
        assert (answer["hookStatus"] == "FAILED") == (not requests[name][1]), name


def test_fail_mode_refuses_exactly_what_is_not_acceptable(estate, make_stack) -> None:
    stack = make_stack(EnablePreventiveHook="fail")
    requests = catalogue(estate)
    mode = failure_mode(stack)
    assert mode == "FAIL"
    outcome = {name: proceeds(answer, mode) for name, answer in answers(stack, requests).items()}
    assert outcome == {name: acceptable for name, (_, acceptable) in requests.items()}


def test_off_is_the_default_and_deploys_no_hook(make_stack) -> None:
    assert failure_mode(make_stack()) is None
