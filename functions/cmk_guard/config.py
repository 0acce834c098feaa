"""Settings, read from the environment the template sets. Parsed per invocation, validated, never scattered."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cmk_guard.core.models import KeyStrategy, Mode


def _csv(value: object) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return list(value)  # type: ignore[call-overload]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    region: str = Field(alias="AWS_REGION", default="us-east-1")
    ledger_table_name: str = Field(alias="LEDGER_TABLE_NAME", min_length=3)
    ops_topic_arn: str = Field(alias="OPS_TOPIC_ARN", default="")
    mode: Mode = Field(alias="MODE", default=Mode.AUTO)
    key_strategy: KeyStrategy = Field(alias="KEY_STRATEGY", default=KeyStrategy.PER_KNOWLEDGE_BASE)
    existing_key_arn: str = Field(alias="EXISTING_KEY_ARN", default="")
    key_group_tag_key: str = Field(alias="KEY_GROUP_TAG_KEY", default="cmk-guard:key-group", min_length=1)
    key_admin_principal_arns: list[str] = Field(alias="KEY_ADMIN_PRINCIPAL_ARNS", default_factory=list)
    key_manager_role_arn: str = Field(alias="KEY_MANAGER_ROLE_ARN", default="")
    key_inspector_role_arns: list[str] = Field(alias="KEY_INSPECTOR_ROLE_ARNS", default_factory=list)
    key_rotation_period_days: int = Field(alias="KEY_ROTATION_PERIOD_DAYS", default=365, ge=90, le=2560)
    key_use_via_service_condition: bool = Field(alias="KEY_USE_VIA_SERVICE_CONDITION", default=False)
    sync_after_update: bool = Field(alias="SYNC_AFTER_UPDATE", default=True)
    verify_timeout_minutes: float = Field(alias="VERIFY_TIMEOUT_MINUTES", default=60, ge=0, le=1440)
    verify_poll_initial_seconds: int = Field(alias="VERIFY_POLL_INITIAL_SECONDS", default=60, ge=1)
    verify_poll_max_seconds: int = Field(alias="VERIFY_POLL_MAX_SECONDS", default=600, ge=1)
    ingestion_poll_seconds: int = Field(alias="INGESTION_POLL_SECONDS", default=30, ge=1)
    ingestion_timeout_minutes: int = Field(alias="INGESTION_TIMEOUT_MINUTES", default=60, ge=1)
    lock_ttl_seconds: int = Field(alias="LOCK_TTL_SECONDS", default=4 * 24 * 3600, ge=60)
    # Many accounts: the central stack's account, and how it reaches the member stacks' roles.
    home_account_id: str = Field(alias="HOME_ACCOUNT_ID", default="", pattern=r"^(\d{12})?$")
    organization_id: str = Field(alias="ORGANIZATION_ID", default="")
    member_role_prefix: str = Field(alias="MEMBER_ROLE_PREFIX", default="cmk-guard-member", min_length=1)
    member_external_id: str = Field(alias="MEMBER_EXTERNAL_ID", default="")
    # Approval mode: where the approval e-mail goes and how long a request waits for a person.
    approval_topic_arn: str = Field(alias="APPROVAL_TOPIC_ARN", default="")
    approval_timeout_hours: float = Field(alias="APPROVAL_TIMEOUT_HOURS", default=72, gt=0, le=720)
    # The sweep: knowledge bases per Map page, data sources per evaluation invocation (its bound on work).
    sweep_knowledge_base_page_size: int = Field(alias="SWEEP_KNOWLEDGE_BASE_PAGE_SIZE", default=50, ge=1, le=1000)
    sweep_data_source_page_size: int = Field(alias="SWEEP_DATA_SOURCE_PAGE_SIZE", default=25, ge=1, le=1000)

    @field_validator("key_admin_principal_arns", "key_inspector_role_arns", mode="before")
    @classmethod
    def _split(cls, value: object) -> list[str]:
        return _csv(value)

    @field_validator("mode")
    @classmethod
    def _not_exempt(cls, value: Mode) -> Mode:
        if value is Mode.EXEMPT:
            raise ValueError("the stack-wide Mode cannot be 'exempt'; tag knowledge bases instead")
        return value

    @property
    def approval_timeout_seconds(self) -> int:
        """The approval wait in whole seconds (Step Functions timeouts are integers), at least one."""
        return max(1, math.ceil(self.approval_timeout_hours * 3600))

    def admins_for(self, account_id: str) -> list[str]:
        """Key administrators; the account root (which delegates to IAM) when none are configured."""
        return self.key_admin_principal_arns or [f"arn:aws:iam::{account_id}:root"]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings.model_validate(dict(os.environ if environ is None else environ))
