"""Many accounts on the emulation: ``member.yaml`` deployed in a second account, forwarding to the central stack.

``MemberStack`` reads ``member.yaml`` and creates its roles in the member account exactly as written (names, trust
policies, inline policies; the emulated ``sts:AssumeRole`` honours the trust policies). Its forwarding rule is
emulated the way EventBridge runs it: each CloudTrail record of the member account and region that matches the rule's
pattern is put on the central bus as the forwarding role, if the bus policy in ``template.yaml`` allows that role,
and the central bus's rule (also from ``template.yaml``) starts the central state machine when its pattern matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cmk_guard_local.emulator.identity import parse_principal
from cmk_guard_local.emulator.kms_policy import _applies, _principal_match
from cmk_guard_local.scenario import Estate
from cmk_guard_local.template import load_template, parameters, resolve

if TYPE_CHECKING:
    from cmk_guard_local.stack import EmulatedStack

ROOT = Path(__file__).resolve().parents[2]
STEP_ROLES = {"check": "CheckFunctionRole", "key": "KeyFunctionRole", "apply": "ApplyFunctionRole",
              "ingest": "IngestFunctionRole", "confirm": "ConfirmFunctionRole"}
# The role an organization's management account creates in every new member account; unknown to the emulated IAM,
# so assuming it yields that account's credentials (as an administrator's would).
ADMIN_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class CentralBus:
    """The central stack's organization bus, its policy statement and its rule's pattern, from template.yaml."""

    arn: str
    policy_statement: dict[str, Any]
    rule_pattern: dict[str, Any]

    @classmethod
    def of(cls, central: EmulatedStack) -> CentralBus:
        resources = central.template["Resources"]
        refs = dict(central.refs)
        name = resolve(resources["OrganizationEventBus"]["Properties"]["Name"], refs)
        refs["OrganizationEventBus"] = name
        refs["OrganizationEventBus.Arn"] = f"arn:aws:events:{central.region}:{central.account_id}:event-bus/{name}"
        return cls(
            arn=refs["OrganizationEventBus.Arn"],
            policy_statement=resolve(resources["OrganizationEventBusPolicy"]["Properties"]["Statement"], refs),
            rule_pattern=resolve(resources["OrganizationDataSourceRule"]["Properties"]["EventPattern"], refs),
        )

    def accepts(self, role_arn: str, organization_id: str | None) -> bool:
        """Whether the bus policy lets ``role_arn`` (a member's forwarding role) put events."""
        principal = parse_principal(role_arn)
        context = {"aws:principalarn": principal.arn, "aws:principalaccount": principal.account_id}
        if organization_id:
            context["aws:principalorgid"] = organization_id
        statement = self.policy_statement
        if statement.get("Effect") != "Allow" or _principal_match(statement, principal) is None:
            return False
        return _applies(statement, "events:PutEvents", self.arn, context)


@dataclass
class Forwarding:
    """One member-account record offered to the member's rule, and what came of it."""

    record: dict[str, Any]
    matched: bool
    accepted_by_bus: bool = False
    execution_arn: str | None = None


@dataclass
class MemberStack:
    """``member.yaml`` in ``account_id`` (same region as the central stack), wired to ``central``."""

    central: EmulatedStack
    account_id: str
    external_id: str
    organization_id: str
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    template_path: Path = ROOT / "member.yaml"

    def __post_init__(self) -> None:
        self.template = load_template(self.template_path)
        self.region = self.central.region
        self.refs: dict[str, str] = {}
        self.role_arns: dict[str, str] = {}
        self.forwardings: list[Forwarding] = []
        self.forward_pattern: dict[str, Any] = {}
        self._admin: boto3.session.Session | None = None
        self.bus = CentralBus.of(self.central)

    # -- deployment -------------------------------------------------------------------------------------------
    def session(self) -> boto3.session.Session:
        """An administrator's session in the member account."""
        if self._admin is None:
            sts = boto3.client("sts", region_name=self.region)
            credentials = sts.assume_role(
                RoleArn=f"arn:aws:iam::{self.account_id}:role/{ADMIN_ROLE}", RoleSessionName="member-admin"
            )["Credentials"]
            self._admin = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region,
            )
        return self._admin

    def central_parameters(self) -> dict[str, str]:
        """What the README tells an operator to pass: the central stack's outputs and trust settings."""
        bus = self.bus.arn
        values = {f"Central{step.capitalize()}RoleArn": self.central.role_arns[role] for step, role in STEP_ROLES.items()}
        return {
            **values,
            "CentralEventBusArn": bus,
            "OrganizationId": self.organization_id,
            "ExternalId": self.external_id,
        }

    def deploy(self) -> MemberStack:
        self.refs.update({**parameters(self.template), **self.central_parameters(), **self.parameter_overrides})
        self.refs.update({"AWS::AccountId": self.account_id, "AWS::Region": self.region, "AWS::Partition": "aws",
                          "AWS::StackName": "cmk-guard-member", "AWS::URLSuffix": "amazonaws.com"})
        iam = self.session().client("iam")
        resources = self.template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            properties = resolve(resource["Properties"], self.refs)
            arn = iam.create_role(
                RoleName=properties["RoleName"],
                AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
                Description=properties.get("Description", ""),
            )["Role"]["Arn"]
            for policy in properties.get("Policies", []):
                iam.put_role_policy(RoleName=properties["RoleName"], PolicyName=policy["PolicyName"],
                                    PolicyDocument=json.dumps(policy["PolicyDocument"]))
            self.refs[logical_id] = properties["RoleName"]
            self.refs[f"{logical_id}.Arn"] = arn
            self.role_arns[logical_id] = arn
        (rule,) = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
        self.forward_pattern = resolve(rule["Properties"]["EventPattern"], self.refs)
        self.central.account.cloudtrail.subscribe(self._on_record)
        return self

    # -- EventBridge: the member's rule, then the central bus and its rule -------------------------------------
    def _on_record(self, record: dict[str, Any]) -> None:
        if record.get("eventSource") != "bedrock.amazonaws.com":
            return
        if record.get("eventName") not in {"CreateDataSource", "UpdateDataSource"}:
            return
        if (record.get("recipientAccountId"), record.get("awsRegion")) != (self.account_id, self.region):
            return
        self.forward(record)

    def forward(self, record: dict[str, Any]) -> Forwarding:
        event = self.central.envelope(record)  # forwarded events keep their account and region
        forwarding = Forwarding(record=record, matched=self._matches(self.forward_pattern, event))
        if forwarding.matched:
            forwarding.accepted_by_bus = self.bus.accepts(
                self.role_arns["ForwardingRole"], self.central.account.organization_id
            )
        if forwarding.accepted_by_bus and self._matches(self.bus.rule_pattern, event):
            forwarding.execution_arn = self.central.start(event)
        self.forwardings.append(forwarding)
        return forwarding

    def _matches(self, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
        result = self.central.client("events").test_event_pattern(
            EventPattern=json.dumps(pattern), Event=json.dumps(event, default=str)
        )
        return bool(result["Result"])


@dataclass
class SessionEstate(Estate):
    """An ``Estate`` that builds through a given session (for example a member account's administrator)."""

    session: Any = None

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region)


def member_estate(member: MemberStack) -> SessionEstate:
    """Knowledge bases, data sources and keys created in the member account by its administrator."""
    return SessionEstate(region=member.region, account_id=member.account_id, session=member.session())
