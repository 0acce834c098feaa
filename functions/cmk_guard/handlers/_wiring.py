"""Shared wiring for the handlers: the step payload, settings and adapter factories."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cmk_guard.adapters.aws import client
from cmk_guard.adapters.bedrock import BedrockAgent
from cmk_guard.adapters.cloudtrail import CloudTrail
from cmk_guard.adapters.kms import Kms
from cmk_guard.adapters.ledger import Ledger
from cmk_guard.adapters.notifier import Notifier
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
