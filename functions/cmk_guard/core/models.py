"""The vocabulary of cmk-guard: verdicts, reasons, outcomes, modes and the data passed between steps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Verdict(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"


class Reason(StrEnum):
    """Why a verdict was reached. Non-compliant reasons first, then skip reasons."""

    CUSTOMER_MANAGED_KEY = "CUSTOMER_MANAGED_KEY"
    AWS_OWNED_KEY = "AWS_OWNED_KEY"
    AWS_MANAGED_KEY = "AWS_MANAGED_KEY"
    KEY_DISABLED = "KEY_DISABLED"
    KEY_PENDING_DELETION = "KEY_PENDING_DELETION"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    KEY_UNUSABLE = "KEY_UNUSABLE"
    KEY_IN_OTHER_REGION = "KEY_IN_OTHER_REGION"
    EXEMPT = "EXEMPT"
    MANAGED_KNOWLEDGE_BASE = "MANAGED_KNOWLEDGE_BASE"
    NO_TRANSIENT_DATA_ENCRYPTION = "NO_TRANSIENT_DATA_ENCRYPTION"
    DATA_SOURCE_DELETING = "DATA_SOURCE_DELETING"
    KNOWLEDGE_BASE_DELETING = "KNOWLEDGE_BASE_DELETING"
    DATA_SOURCE_NOT_FOUND = "DATA_SOURCE_NOT_FOUND"
    REMEDIATION_IN_PROGRESS = "REMEDIATION_IN_PROGRESS"
    READ_FAILED = "READ_FAILED"


class Outcome(StrEnum):
    ALREADY_COMPLIANT = "ALREADY_COMPLIANT"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"
    NOTIFIED = "NOTIFIED"
    APPROVAL_REJECTED = "APPROVAL_REJECTED"
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    REMEDIATED_VERIFIED = "REMEDIATED_VERIFIED"
    REMEDIATED_UNVERIFIED = "REMEDIATED_UNVERIFIED"
    FAILED = "FAILED"


class Mode(StrEnum):
    AUTO = "auto"
    APPROVAL = "approval"
    NOTIFY = "notify"
    EXEMPT = "exempt"


class KeyStrategy(StrEnum):
    PER_KNOWLEDGE_BASE = "per-knowledge-base"
    PER_ROLE = "per-role"
    PER_TAG = "per-tag"
    EXISTING = "existing"


class StepModel(BaseModel):
    """Base for data that crosses a state boundary: camelCase JSON, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_state(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Target(StepModel):
    """The data source a workflow is about, and the CloudTrail event that pointed at it."""

    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    knowledge_base_id: str = Field(pattern=r"^[0-9a-zA-Z]{10}$")
    data_source_id: str = Field(pattern=r"^[0-9a-zA-Z]{10}$")
    event_id: str = Field(min_length=1, max_length=128)
    event_name: str = Field(min_length=1, max_length=64)
    event_time: datetime


class KeyFacts(StepModel):
    """What DescribeKey says about a key, reduced to what the verdict needs."""

    arn: str
    key_manager: str
    key_state: str
    key_spec: str = "SYMMETRIC_DEFAULT"
    key_usage: str = "ENCRYPT_DECRYPT"


class KnowledgeBaseFacts(StepModel):
    knowledge_base_id: str
    name: str
    arn: str
    role_arn: str
    type: str
    status: str
    tags: dict[str, str] = Field(default_factory=dict)
    tags_readable: bool = True


class DataSourceFacts(StepModel):
    data_source_id: str
    name: str
    type: str
    status: str
    kms_key_arn: str | None = None


class Evaluation(StepModel):
    verdict: Verdict
    reason: Reason
    detail: str
    current_key_arn: str | None = None
