"""Shared wiring for the handlers: the step payload, settings and adapter factories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cmk_guard.adapters.aws import client
from cmk_guard.adapters.bedrock import BedrockAgent
from cmk_guard.adapters.cloudtrail import CloudTrail
from cmk_guard.adapters.kms import Kms
from cmk_guard.adapters.ledger import Ledger
from cmk_guard.adapters.notifier import Notifier
from cmk_guard.adapters.sessions import AccountSessions, MemberAccess
from cmk_guard.config import Settings, load_settings
from cmk_guard.core.models import KnowledgeBaseFacts, Target

# Correlation id of every log line: the triggering CloudTrail event id (the sweep's id for a sweep finding).
CORRELATION_PATH = "input.target.eventId || input.detail.eventID || input.detail.sweepId"


class StepPayload(BaseModel):
    """What the state machine passes to every task: the state so far and the execution's ARN."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    input: dict[str, Any]
    execution_arn: str = Field(alias="executionArn", min_length=1)
    action: str | None = None

    @property
    def target(self) -> Target:
        return Target.model_validate(self.input["target"])

    @property
    def knowledge_base(self) -> KnowledgeBaseFacts:
        return KnowledgeBaseFacts.model_validate(self.input["check"]["knowledgeBase"])


def settings() -> Settings:
    return load_settings()


def bedrock(region: str) -> BedrockAgent:
    return BedrockAgent(client("bedrock-agent", region))


def kms(region: str) -> Kms:
    return Kms(client("kms", region))


def cloudtrail(region: str) -> CloudTrail:
    return CloudTrail(client("cloudtrail", region))


def ledger(config: Settings) -> Ledger:
    return Ledger(client("dynamodb", config.region), config.ledger_table_name)


def notifier(config: Settings) -> Notifier:
    return Notifier(client("sns", config.region), config.ops_topic_arn)


# -- many accounts --------------------------------------------------------------------------------------------
def event_account(state: dict[str, Any], config: Settings) -> str:
    """The account the workflow acts in: the target's, else the event envelope's (forwarded events keep theirs)."""
    target = state.get("target") or {}
    account = target.get("accountId") or state.get("account")
    return str(account) if account else config.home_account_id


@dataclass(frozen=True)
class InAccount:
    """Adapter factories (per region) for the account a data source lives in: this one or a member account."""

    sessions: AccountSessions
    account_id: str

    def bedrock(self, region: str) -> BedrockAgent:
        return BedrockAgent(self.sessions.client("bedrock-agent", self.account_id, region))

    def kms(self, region: str) -> Kms:
        return Kms(self.sessions.client("kms", self.account_id, region))

    def cloudtrail(self, region: str) -> CloudTrail:
        return CloudTrail(self.sessions.client("cloudtrail", self.account_id, region))


def in_account(account_id: str, step: str, execution_arn: str, config: Settings) -> InAccount:
    """Clients for ``account_id`` as ``step`` of this execution; a member account's role is assumed on first use."""
    access = MemberAccess(
        home_account_id=config.home_account_id or account_id,
        home_region=config.region,
        organization_id=config.organization_id,
        role_prefix=config.member_role_prefix,
        external_id=config.member_external_id,
    )
    return InAccount(AccountSessions(access, step, execution_arn), account_id)


def key_settings(config: Settings, clients: InAccount, region: str) -> Settings:
    """In a member account the key's manager and inspectors are that account's member roles, not the central ones."""
    if clients.sessions.is_home(clients.account_id):
        return config
    access = clients.sessions.access
    return config.model_copy(
        update={
            "key_manager_role_arn": access.role_arn("key", clients.account_id, region),
            "key_inspector_role_arns": [
                access.role_arn("check", clients.account_id, region),
                access.role_arn("apply", clients.account_id, region),
            ],
        }
    )
