"""The template against the code and the public contract: placeholders, environment, handlers, parameters."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from cmk_guard.config import Settings
from cmk_guard_local.template import conditions, functions, parameters, resolve, state_machine

from .conftest import ACCOUNT_ID, REGION, ROOT

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# design.md §5: the parameters that exist.
CONTRACT_PARAMETERS = {
    "SweepSchedule",
    "Mode",
    "KeyStrategy",
    "ExistingKeyArn",
    "KeyGroupTagKey",
    "KeyAdminPrincipalArns",
    "KeyRotationPeriodDays",
    "OpsEmail",
    "SyncAfterUpdate",
    "VerifyTimeoutMinutes",
    "ApprovalEmail",
    "ApprovalTimeoutHours",
}
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
LAMBDA_SETS = {"AWS_REGION"}  # set by the Lambda runtime, never by the template


def fake_refs(template: dict[str, Any], **overrides: str) -> dict[str, str]:
    """Values for every name the template references, as a deployment would provide them."""
    refs: dict[str, str] = {
        **parameters(template),
        "AWS::Partition": "aws",
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::StackName": "cmk-guard",
        "AWS::URLSuffix": "amazonaws.com",
    }
    for logical_id, resource in template["Resources"].items():
        refs[logical_id] = f"cmk-guard-{logical_id}"
        if resource["Type"] == "AWS::IAM::Role":
            refs[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/cmk-guard-{logical_id}"
        elif resource["Type"] == "AWS::Serverless::Function":
            refs[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:cmk-guard-{logical_id}"
        elif resource["Type"] == "AWS::SNS::Topic":
            refs[logical_id] = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:cmk-guard-{logical_id}"
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            refs[logical_id] = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:cmk-guard-{logical_id}"
        elif resource["Type"] == "AWS::DynamoDB::Table":
            refs[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/cmk-guard-{logical_id}"
        elif resource["Type"] == "AWS::Serverless::HttpApi":
            refs[logical_id] = "a1b2c3d4e5"
            refs[f"{logical_id}.ApiEndpoint"] = f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com"
    refs.update(overrides)
    return refs


# -- state machines ---------------------------------------------------------------------------------------------
MACHINES = ["RemediateStateMachine", "SweepStateMachine"]


@pytest.mark.parametrize("machine", MACHINES)
def test_every_asl_placeholder_has_a_substitution_and_vice_versa(template: dict[str, Any], machine: str) -> None:
    spec = state_machine(template, machine)
    definition = ROOT / spec["definition_uri"]
    assert definition.is_file(), f"DefinitionUri {spec['definition_uri']} does not exist"
    placeholders = set(PLACEHOLDER.findall(definition.read_text()))
    assert placeholders, "the ASL has no placeholders: the task ARNs cannot be hard-coded"
    assert placeholders == set(spec["substitutions"]), (
        f"missing substitutions: {sorted(placeholders - set(spec['substitutions']))}; "
        f"unused substitutions: {sorted(set(spec['substitutions']) - placeholders)}"
    )


def test_every_asl_file_is_deployed_with_complete_substitutions(template: dict[str, Any]) -> None:
    machines = {
        (resource["Properties"]["DefinitionUri"]): resource["Properties"].get("DefinitionSubstitutions") or {}
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }
    for path in sorted((ROOT / "statemachine").glob("*.asl.json")):
        relative = path.relative_to(ROOT).as_posix()
        assert relative in machines, f"{relative} is not the DefinitionUri of any state machine"
        assert set(PLACEHOLDER.findall(path.read_text())) == set(machines[relative])


@pytest.mark.parametrize("machine", MACHINES)
def test_substitutions_resolve_to_the_functions_they_name(template: dict[str, Any], machine: str) -> None:
    refs = fake_refs(template)
    substituted = {k: resolve(v, refs) for k, v in state_machine(template, machine)["substitutions"].items()}
    expected = {
        "OpsTopicArn": refs["OpsTopic"],
        "Partition": refs["AWS::Partition"],
        "ApprovalPageUrl": refs["ApprovalApi.ApiEndpoint"],
        "RemediateStateMachineArn": refs["RemediateStateMachine"],
    }
    for placeholder, arn in substituted.items():
        if placeholder in expected:
            assert arn == expected[placeholder], placeholder
            continue
        function = placeholder.removesuffix("Arn")
        assert arn == refs[f"{function}.Arn"], f"${{{placeholder}}} should be {function}'s ARN"
    text = (ROOT / state_machine(template, machine)["definition_uri"]).read_text()
    definition = json.loads(PLACEHOLDER.sub(lambda m: substituted[m.group(1)], text))
    assert definition["StartAt"] in definition["States"]


# -- functions and their environment ----------------------------------------------------------------------------
def test_every_settings_alias_is_in_globals(template: dict[str, Any]) -> None:
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias} - LAMBDA_SETS
    assert len(aliases) >= 15, "Settings lost its aliases? the test would prove nothing"
    variables = set(template["Globals"]["Function"]["Environment"]["Variables"])
    assert aliases <= variables, f"the code reads {sorted(aliases - variables)} but the template does not set them"


def test_the_resolved_environment_is_valid_settings(template: dict[str, Any]) -> None:
    refs = fake_refs(template)
    for logical_id, spec in functions(template).items():
        environment = {k: str(resolve(v, refs)) for k, v in spec["environment"].items()}
        settings = Settings.model_validate({**environment, "AWS_REGION": REGION})
        assert settings.ledger_table_name == "cmk-guard-LedgerTable", logical_id
        assert settings.key_manager_role_arn == refs["KeyFunctionRole.Arn"]
        assert settings.key_inspector_role_arns == [
            refs["CheckFunctionRole.Arn"],
            refs["ApplyFunctionRole.Arn"],
            refs["ProposeFunctionRole.Arn"],
            refs["SweepEvaluateFunctionRole.Arn"],
        ]
        assert settings.approval_topic_arn == refs["ApprovalTopic"]
        assert settings.approval_timeout_seconds == 72 * 3600
        assert settings.key_rotation_period_days == 365
        longest_wait = (settings.verify_timeout_minutes + settings.ingestion_timeout_minutes) * 60
        assert settings.lock_ttl_seconds > longest_wait


def test_environment_is_the_same_for_every_function(template: dict[str, Any]) -> None:
    # The in-process harness runs every handler with one shared environment.
    environments = [json.dumps(spec["environment"], sort_keys=True) for spec in functions(template).values()]
    assert len(environments) == 14  # 7 workflow steps, the approval page, the hook, the denials function, 4 sweep steps
    assert len(set(environments)) == 1


def test_handlers_exist_in_the_bundle(template: dict[str, Any]) -> None:
    for logical_id, spec in functions(template).items():
        module, _, attribute = spec["handler"].rpartition(".")
        assert module.startswith("cmk_guard.handlers."), logical_id
        source = ROOT / "functions" / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{logical_id}: {source} does not exist"
        names = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert attribute in names, f"{logical_id}: {source} defines no {attribute}"
        assert spec["role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}


def test_confirm_function_runs_one_at_a_time_and_the_key_function_is_bounded(template: dict[str, Any]) -> None:
    reserved = {k: v["reserved_concurrency"] for k, v in functions(template).items()}
    assert reserved.pop("ConfirmFunction") == 1  # LookupEvents: 2 requests per second per account and region
    assert reserved.pop("KeyFunction") == 5  # CreateKey/CreateAlias/PutKeyPolicy: 5 per second, $1 a key a month
    assert reserved.pop("KeyDenialsFunction") == 2  # a storm of refused KMS calls stays bounded
    assert set(reserved.values()) == {None}


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        elif set(node) == {"Fn::GetAtt"}:
            value = node["Fn::GetAtt"]
            found.add(value.split(".")[0] if isinstance(value, str) else value[0])
        elif set(node) == {"Fn::Sub"}:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            found.update(name.split(".")[0] for name in SUB_NAME.findall(text))
            if isinstance(node["Fn::Sub"], list):
                found |= _references(node["Fn::Sub"][1])
        for value in node.values():
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def dependency_problems(template: dict[str, Any]) -> list[str]:
    """Dependency cycles, and roles that reference a function (the classic SAM role/function cycle)."""
    resources = template["Resources"]
    global_refs = _references(template.get("Globals"))
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        edges = _references(resource.get("Properties")) | set(resource.get("DependsOn") or [])
        if resource["Type"] == "AWS::Serverless::Function":
            edges |= global_refs
        graph[logical_id] = {e for e in edges if e in resources and e != logical_id}
    function_ids = {k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    problems = [
        f"{logical_id} references {sorted(graph[logical_id] & function_ids)}"
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role" and graph[logical_id] & function_ids
    ]
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 1:
            problems.append("cycle: " + " -> ".join((*path, node)))
            return
        if state.get(node) == 2:
            return
        state[node] = 1
        for successor in sorted(graph[node]):
            visit(successor, (*path, node))
        state[node] = 2

    for logical_id in graph:
        visit(logical_id, ())
    return problems


def test_resource_graph_has_no_cycles_and_roles_never_reference_functions(template: dict[str, Any]) -> None:
    assert dependency_problems(template) == []


def test_the_cycle_check_sees_a_role_that_references_its_function(fresh_template: dict[str, Any]) -> None:
    statements = fresh_template["Resources"]["CheckFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    statements["Statement"].append(
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": {"Fn::Sub": "${CheckFunction.Arn}"}}
    )
    problems = dependency_problems(fresh_template)
    assert any(p.startswith("CheckFunctionRole references ['CheckFunction']") for p in problems)
    assert any(p.startswith("cycle:") for p in problems)


# -- parameters ------------------------------------------------------------------------------------------------
def test_contract_parameters_keep_their_names(template: dict[str, Any]) -> None:
    names = set(template["Parameters"])
    assert CONTRACT_PARAMETERS <= names, f"renamed or missing: {sorted(CONTRACT_PARAMETERS - names)}"


def test_contract_parameter_values(template: dict[str, Any]) -> None:
    p = template["Parameters"]
    assert p["Mode"]["AllowedValues"] == ["auto", "approval", "notify"]
    assert p["KeyStrategy"]["AllowedValues"] == ["per-knowledge-base", "per-role", "per-tag", "existing"]
    assert p["KeyGroupTagKey"]["Default"] == "cmk-guard:key-group"
    assert (p["KeyRotationPeriodDays"]["MinValue"], p["KeyRotationPeriodDays"]["MaxValue"]) == (90, 2560)
    assert p["KeyRotationPeriodDays"]["Default"] == 365
    assert p["SyncAfterUpdate"]["AllowedValues"] == ["true", "false"]
    assert p["VerifyTimeoutMinutes"]["Default"] == 60
    assert p["KeyAdminPrincipalArns"]["Type"] == "String" and p["KeyAdminPrincipalArns"]["Default"] == ""
    for name, spec in p.items():
        assert len(str(spec.get("Description", ""))) > 30, f"{name} needs a Description a deployer understands"


def test_every_parameter_is_in_the_console_interface(template: dict[str, Any]) -> None:
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])


def _allowed(spec: dict[str, Any], value: str) -> bool:
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if spec["Type"] == "Number":
        number = float(value)
        if number < spec.get("MinValue", float("-inf")) or number > spec.get("MaxValue", float("inf")):
            return False
    return True


def test_defaults_satisfy_their_own_constraints(template: dict[str, Any]) -> None:
    for name, value in parameters(template).items():
        assert _allowed(template["Parameters"][name], value), f"{name}'s default {value!r} breaks its constraints"


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("ExistingKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("ExistingKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", True),
        ("ExistingKeyArn", f"arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{KEY_ID}", True),
        ("ExistingKeyArn", "arn:aws:kms:eu-west-1:123456789012:alias/my-key", False),
        ("ExistingKeyArn", "1234abcd-12ab-34cd-56ef-1234567890ab", False),
        ("KeyAdminPrincipalArns", "arn:aws:iam::123456789012:role/KeyAdmins", True),
        ("KeyAdminPrincipalArns", "arn:aws:iam::123456789012:role/a/b/Admin,arn:aws:iam::123456789012:user/ann", True),
        ("KeyAdminPrincipalArns", "arn:aws:iam::123456789012:root, arn:aws:iam::123456789012:role/X", True),
        ("KeyAdminPrincipalArns", "arn:aws:iam::123456789012:role/X,", False),
        ("KeyAdminPrincipalArns", "*", False),
        ("KeyAdminPrincipalArns", "arn:aws:sts::123456789012:assumed-role/X/session", False),
        ("OpsEmail", "ops@example.com", True),
        ("OpsEmail", "not an address", False),
        ("KeyRotationPeriodDays", "89", False),
        ("KeyRotationPeriodDays", "2560", True),
        ("LogRetentionDays", "400", True),
        ("LogRetentionDays", "100", False),
        ("Mode", "exempt", False),
        ("SweepSchedule", "rate(1 day)", True),
        ("SweepSchedule", "rate(6 hours)", True),
        ("SweepSchedule", "cron(0 3 ? * MON-FRI *)", True),
        ("SweepSchedule", "rate(0 days)", False),
        ("SweepSchedule", "daily", False),
    ],
)
def test_parameter_constraints(template: dict[str, Any], name: str, value: str, ok: bool) -> None:
    assert _allowed(template["Parameters"][name], value) is ok


@pytest.mark.parametrize(
    ("strategy", "key", "email", "expected"),
    [
        ("existing", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "", (True, False)),
        ("per-role", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "", (False, False)),
        ("existing", "", "ops@example.com", (False, True)),
    ],
)
def test_conditions(template: dict[str, Any], strategy: str, key: str, email: str, expected: tuple[bool, bool]) -> None:
    refs = fake_refs(template, KeyStrategy=strategy, ExistingKeyArn=key, OpsEmail=email)
    evaluated = conditions(template, refs)
    assert (evaluated["HasExistingKey"], evaluated["HasOpsEmail"]) == expected
    assert template["Resources"]["OpsEmailSubscription"]["Condition"] == "HasOpsEmail"


# -- stateful resources ------------------------------------------------------------------------------------------
def test_ledger_table(template: dict[str, Any]) -> None:
    table = template["Resources"]["LedgerTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    assert {(a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_ops_topic_is_encrypted_and_only_this_account_publishes(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    # A customer-managed key: CloudWatch alarms cannot publish to a topic on the AWS managed alias/aws/sns key.
    assert resources["OpsTopic"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["OpsTopicKey", "Arn"]}
    refs = fake_refs(template)
    policy = resolve(resources["OpsTopicPolicy"]["Properties"], refs)
    assert policy["Topics"] == [refs["OpsTopic"]]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [
        {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        {"Service": "cloudwatch.amazonaws.com"},
    ]
    assert {s["Action"] for s in allows} == {"sns:Publish"}
    # CloudWatch may publish only for this stack's alarms in this account (no confused deputy).
    assert allows[1]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:cmk-guard-*"},
    }


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    values = {json.dumps(o["Value"], sort_keys=True) for o in outputs.values()}
    names = ("RemediateStateMachine", "SweepStateMachine", "LedgerTable", "OpsTopic")
    expected: list[dict[str, Any]] = [{"Ref": name} for name in names]
    expected.append({"Ref": "RuleDeadLetterQueue"})
    steps = ("Check", "Key", "Apply", "Ingest", "Confirm", "Record")
    expected += [{"Fn::GetAtt": [f"{step}FunctionRole", "Arn"]} for step in steps]
    for value in expected:
        assert json.dumps(value, sort_keys=True) in values, f"no output for {value}"
