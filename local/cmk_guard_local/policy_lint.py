"""Lint every policy document of a CloudFormation template, and key policies, with parliament (offline).

``documents`` finds the policies of a (SAM-transformed) template with their kind (identity, trust, resource, key),
resolved against fake references (``template.resolve``). ``lint`` runs parliament's default auditors over one and
drops only the findings listed in ``EXCEPTIONS`` below, each for a reason parliament cannot know.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cmk_guard_local.template import resolve

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


@dataclass(frozen=True)
class Finding:
    where: str
    issue: str
    detail: Any

    def __str__(self) -> str:
        return f"{self.where}: {self.issue} {json.dumps(self.detail, default=str)[:400]}"


@dataclass(frozen=True)
class Policy:
    where: str
    kind: str  # "identity" | "trust" | "resource" | "key"
    document: dict[str, Any]


# -- fake references ----------------------------------------------------------------------------------------------
_ARNS = {
    "AWS::IAM::Role": ("{name}", {"Arn": "arn:aws:iam::{account}:role/{name}"}),
    "AWS::Lambda::Function": ("{name}", {"Arn": "arn:aws:lambda:{region}:{account}:function:{name}"}),
    "AWS::Serverless::Function": ("{name}", {"Arn": "arn:aws:lambda:{region}:{account}:function:{name}"}),
    "AWS::SNS::Topic": ("arn:aws:sns:{region}:{account}:{name}", {"TopicName": "{name}"}),
    "AWS::SQS::Queue": ("https://sqs.{region}.amazonaws.com/{account}/{name}",
                        {"Arn": "arn:aws:sqs:{region}:{account}:{name}"}),
    "AWS::DynamoDB::Table": ("{name}", {"Arn": "arn:aws:dynamodb:{region}:{account}:table/{name}"}),
    "AWS::KMS::Key": (KEY_ID, {"Arn": "arn:aws:kms:{region}:{account}:key/" + KEY_ID}),
    "AWS::Events::EventBus": ("{name}", {"Arn": "arn:aws:events:{region}:{account}:event-bus/{name}"}),
    "AWS::Events::Rule": ("{name}", {"Arn": "arn:aws:events:{region}:{account}:rule/{name}"}),
    "AWS::StepFunctions::StateMachine": ("arn:aws:states:{region}:{account}:stateMachine:{name}", {"Name": "{name}"}),
    "AWS::Serverless::StateMachine": ("arn:aws:states:{region}:{account}:stateMachine:{name}", {"Name": "{name}"}),
    "AWS::Logs::LogGroup": ("{name}", {"Arn": "arn:aws:logs:{region}:{account}:log-group:{name}:*"}),
}


def fake_refs(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """Plausible values for every parameter, pseudo parameter and resource reference of ``template``."""
    refs: dict[str, str] = {
        "AWS::Partition": "aws", "AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION,
        "AWS::StackName": "cmk-guard", "AWS::URLSuffix": "amazonaws.com", **parameters,
    }
    for logical_id, resource in (template.get("Resources") or {}).items():
        name = f"cmk-guard-{logical_id}"
        ref, attributes = _ARNS.get(resource["Type"], ("{name}", {}))
        refs[logical_id] = ref.format(name=name, account=ACCOUNT_ID, region=REGION)
        for attribute, value in attributes.items():
            refs[f"{logical_id}.{attribute}"] = value.format(name=name, account=ACCOUNT_ID, region=REGION)
    return refs


# -- finding the documents ----------------------------------------------------------------------------------------
def _kind(path: tuple[str, ...]) -> str:
    if "AssumeRolePolicyDocument" in path:
        return "trust"
    if "KeyPolicy" in path:
        return "key"
    if "Policies" in path:  # a role's inline policies
        return "identity"
    return "resource"  # topic, queue and event bus policies


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if isinstance(node, dict):
        statement = node.get("Statement")
        if isinstance(statement, list) or (isinstance(statement, dict) and "Effect" in statement):
            yield path, node
            return
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def documents(template: Mapping[str, Any], refs: Mapping[str, str], conditions: Mapping[str, bool]) -> list[Policy]:
    """Every policy document in ``template``'s resources, intrinsics resolved (``Fn::If`` by ``conditions``)."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Condition") and not conditions.get(resource["Condition"], False):
            continue
        for path, node in _walk(resource.get("Properties") or {}, (logical_id, "Properties")):
            document = resolve(node, refs, conditions)
            statements = document["Statement"]
            document = {"Version": document.get("Version", "2012-10-17"),
                        "Statement": [statements] if isinstance(statements, dict) else statements}
            found.append(Policy("/".join(path), _kind(path), document))
    return found


# -- linting ------------------------------------------------------------------------------------------------------
# Findings parliament reports that are not problems, each with the reason. Nothing else is ignored.
EXCEPTIONS: dict[str, str] = {
    # In a key policy, Resource must be "*" and means the key itself (KMS refuses anything else).
    "key:RESOURCE_STAR": "a key policy's Resource is always '*', meaning this key",
}
# parliament treats every resource type the Service Authorization Reference lists for an action as required.
# For these actions the types are alternatives (the resource being tagged; a standard or an express execution), so
# one matching type is enough.
ONE_OF_RESOURCE_TYPES = frozenset({"bedrock:ListTagsForResource", "states:DescribeExecution"})
# kms:CreateAlias is authorised on the alias and on the key. cmk-guard grants the alias half in IAM and the key half
# in the key's own policy (CmkGuardKeyManagement), so tagging another key cmk-guard:managed grants nothing.
KEY_HALF_IN_KEY_POLICY = {"kms:CreateAlias": "arn:*:kms:*:*:key/*"}


def _parliament() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, deprecated in setuptools
        import parliament
    return parliament


def _resource_mismatches(detail: list[dict[str, str]], document: dict[str, Any]) -> list[dict[str, str]]:
    resources = [r for s in document["Statement"] for r in (s.get("Resource") if isinstance(s.get("Resource"), list)
                                                              else [s.get("Resource")]) if r]
    parliament = _parliament()
    from parliament.statement import get_arn_format, get_privilege_info

    kept = []
    for item in detail:
        action, wanted = item["action"], item["required_format"]
        if KEY_HALF_IN_KEY_POLICY.get(action) == wanted:
            continue
        if action in ONE_OF_RESOURCE_TYPES:
            service, name = action.split(":")
            info = get_privilege_info(service, name)
            formats = [get_arn_format(t["resource_type"], info["service_resources"])
                       for t in info["resource_types"] if t["resource_type"]]
            if any(parliament.is_arn_strictly_valid("", f, r) for f in formats for r in resources):
                continue
        kept.append(item)
    return kept


# A trust policy is the role's resource policy without a Resource element (the role is implied). parliament would
# stop at "no Resource" and check nothing else, so it is linted with the role as its Resource.
TRUSTING_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/trusting-role"


def _as_linted(policy: Policy) -> dict[str, Any]:
    if policy.kind != "trust":
        return policy.document
    statements = [{**s, "Resource": s.get("Resource", TRUSTING_ROLE)} for s in policy.document["Statement"]]
    return {**policy.document, "Statement": statements}


def lint(policy: Policy) -> list[Finding]:
    """parliament's findings on ``policy`` (default auditors), less the documented ``EXCEPTIONS``."""
    analysed = _parliament().analyze_policy_string(json.dumps(_as_linted(policy)))
    findings = []
    for finding in analysed.findings:
        issue, detail = finding.issue, finding.detail
        if f"{policy.kind}:{issue}" in EXCEPTIONS:
            continue
        if issue == "RESOURCE_MISMATCH" and isinstance(detail, list):
            detail = _resource_mismatches(detail, policy.document)
            if not detail:
                continue
        findings.append(Finding(policy.where, issue, detail))
    return findings
