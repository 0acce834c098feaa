"""Clients for the account a data source lives in: the function's own, or a member account through AssumeRole.

A member account runs the member stack (``member.yaml``): one role per workflow step and region, named
``<prefix>-<step>-<region>``, trusting only the central step role of the same name, with an external id and the
organization id. Credentials are assumed lazily, on a client's first call, so a denied ``sts:AssumeRole`` surfaces
where that call is made (the check step turns it into an ``UNKNOWN`` verdict), and are cached per account and region
for one invocation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.credentials import DeferredRefreshableCredentials

from cmk_guard.adapters.aws import SDK_CONFIG, client, translated
from cmk_guard.errors import AccessDeniedError

MEMBER_STEPS = frozenset({"check", "key", "apply", "ingest", "confirm"})
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")
MAX_SESSION_NAME = 64
# Member sessions share one loader of the botocore service models, so each one does not read them again.
_MODELS = botocore.session.get_session().get_component("data_loader")


def session_name(step: str, execution_arn: str) -> str:
    """``cmk-guard-<step>-<execution name>``: who assumed the role and for which execution (CloudTrail shows it)."""
    execution = execution_arn.rsplit(":", 1)[-1] or "unknown"
    return _SESSION_NAME_UNSAFE.sub("-", f"cmk-guard-{step}-{execution}")[:MAX_SESSION_NAME]


@dataclass(frozen=True)
class MemberAccess:
    """How the central stack reaches member accounts (empty ``organization_id``: one account only)."""

    home_account_id: str
    home_region: str
    organization_id: str
    role_prefix: str
    external_id: str
    partition: str = "aws"

    def role_arn(self, step: str, account_id: str, region: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_prefix}-{step}-{region}"


@dataclass
class AccountSessions:
    """boto3 clients per (account, region) for one step of one execution; member credentials cached per instance."""

    access: MemberAccess
    step: str
    execution_arn: str
    _sessions: dict[tuple[str, str], boto3.session.Session] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.step not in MEMBER_STEPS:
            raise ValueError(f"step {self.step!r} never acts in a member account")

    def is_home(self, account_id: str) -> bool:
        return account_id == self.access.home_account_id

    def client(self, service: str, account_id: str, region: str) -> Any:
        if self.is_home(account_id):
            return client(service, region)
        if not self.access.organization_id:
            raise AccessDeniedError(
                f"the data source is in account {account_id}, but cmk-guard is deployed for account "
                f"{self.access.home_account_id} only (OrganizationId is empty); deploy the member stack and set "
                "OrganizationId to remediate other accounts"
            )
        key = (account_id, region)
        if key not in self._sessions:
            self._sessions[key] = self._member_session(account_id, region)
        return self._sessions[key].client(service, region_name=region, config=SDK_CONFIG)

    def _member_session(self, account_id: str, region: str) -> boto3.session.Session:
        role_arn = self.access.role_arn(self.step, account_id, region)
        credentials = DeferredRefreshableCredentials(
            refresh_using=lambda: self._assume(role_arn, account_id), method="assume-role"
        )
        core = botocore.session.get_session()
        core.register_component("data_loader", _MODELS)
        core._credentials = credentials  # noqa: SLF001 - botocore's documented way to plug in refreshable credentials
        return boto3.session.Session(botocore_session=core, region_name=region)

    def _assume(self, role_arn: str, account_id: str) -> dict[str, str]:
        request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name(self.step, self.execution_arn)}
        if self.access.external_id:
            request["ExternalId"] = self.access.external_id
        try:
            with translated(f"AssumeRole {role_arn}"):
                answer = client("sts", self.access.home_region).assume_role(**request)["Credentials"]
        except AccessDeniedError as exc:
            raise AccessDeniedError(
                f"cannot act in account {account_id}: sts:AssumeRole on {role_arn} was refused ({exc}); is the "
                "member stack deployed there, for this region, with the same external id and organization?"
            ) from exc
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }
