"""A mixed estate on the emulated account, with every verdict the sweep and ``cmk-guard scan`` can report.

Compliant, non-compliant (no key, an AWS managed key, a disabled key, a key pending deletion; auto and notify
modes), exempt, managed, without transient-data encryption, and unreadable (a data source, a key and a knowledge
base whose reads are denied, and a knowledge base whose data sources cannot be listed). Created as an
administrator would, through boto3; the denials are injected faults scoped to those resources, for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3

from cmk_guard_local.emulator import Fault, acting_as
from cmk_guard_local.scenario import Estate, data_source_configurations

if TYPE_CHECKING:
    from cmk_guard_local.emulator import EmulatedAccount

ADMIN = "arn:aws:iam::{account}:user/alice"


@dataclass
class MixedEstate:
    """What was built: the expected ``(verdict, reason)`` per data source id (per knowledge base id for the one
    whose data sources cannot be listed), and the knowledge base ids by name."""

    expected: dict[str, tuple[str, str]] = field(default_factory=dict)
    knowledge_bases: dict[str, str] = field(default_factory=dict)
    data_sources: dict[str, str] = field(default_factory=dict)  # "kb-name/ds-name" -> data source id

    def count(self, verdict: str) -> int:
        return sum(1 for v, _ in self.expected.values() if v == verdict)


def build_mixed_estate(account: EmulatedAccount) -> MixedEstate:
    estate = Estate(account.region, account.account_id)
    configs = data_source_configurations(account.region, account.account_id)
    kms = boto3.client("kms", region_name=account.region)
    built = MixedEstate()

    def kb(name: str, role: str, tags: dict[str, str] | None = None, kb_type: str = "VECTOR") -> str:
        kb_id = estate.knowledge_base(name, role, tags=tags, kb_type=kb_type)["knowledgeBaseId"]
        built.knowledge_bases[name] = kb_id
        return kb_id

    def ds(kb_name: str, name: str, expected: tuple[str, str], kind: str = "S3", key: str | None = None) -> str:
        configuration = configs.get(kind, {"type": kind})
        ds_id = estate.data_source(built.knowledge_bases[kb_name], name, configuration, kms_key_arn=key)["dataSourceId"]
        built.data_sources[f"{kb_name}/{name}"] = ds_id
        built.expected[ds_id] = expected
        return ds_id

    with acting_as(ADMIN.format(account=account.account_id)):
        role = estate.kb_role()
        team_key = estate.customer_key([role], "team key")
        managed_key = estate.aws_managed_key()
        disabled_key = estate.customer_key([role], "retired key")
        kms.disable_key(KeyId=disabled_key.rsplit("/", 1)[-1])
        doomed_key = estate.customer_key([role], "key being deleted")
        kms.schedule_key_deletion(KeyId=doomed_key.rsplit("/", 1)[-1], PendingWindowInDays=7)
        foreign_key = estate.customer_key([role], "key whose policy hides it")

        kb("hr-handbook", role)
        ds("hr-handbook", "policies", ("NON_COMPLIANT", "AWS_OWNED_KEY"))
        ds("hr-handbook", "contracts", ("COMPLIANT", "CUSTOMER_MANAGED_KEY"), "SHAREPOINT", team_key)
        ds("hr-handbook", "archive", ("NON_COMPLIANT", "AWS_MANAGED_KEY"), "S3", managed_key)
        ds("hr-handbook", "minutes", ("NON_COMPLIANT", "KEY_DISABLED"), "CONFLUENCE", disabled_key)
        kb("finance", role)
        ds("finance", "ledgers", ("COMPLIANT", "CUSTOMER_MANAGED_KEY"), "S3", team_key)
        ds("finance", "invoices", ("COMPLIANT", "CUSTOMER_MANAGED_KEY"), "SALESFORCE", team_key)
        ds("finance", "forecasts", ("NON_COMPLIANT", "KEY_PENDING_DELETION"), "S3", doomed_key)
        kb("research", role, tags={"cmk-guard:mode": "notify"})
        ds("research", "papers", ("NON_COMPLIANT", "AWS_OWNED_KEY"), "WEB")
        kb("sandbox", role, tags={"cmk-guard:mode": "exempt", "cmk-guard:exempt-reason": "throwaway experiments"})
        ds("sandbox", "scratch", ("SKIPPED", "EXEMPT"))
        kb("helpdesk", role, kb_type="MANAGED")
        ds("helpdesk", "faq", ("SKIPPED", "MANAGED_KNOWLEDGE_BASE"))
        kb("sales", role, kb_type="SQL")
        ds("sales", "warehouse", ("SKIPPED", "NO_TRANSIENT_DATA_ENCRYPTION"), "REDSHIFT_METADATA")
        kb("legal", role)
        ds("legal", "statutes", ("COMPLIANT", "CUSTOMER_MANAGED_KEY"), "CUSTOM", team_key)
        cases = ds("legal", "cases", ("UNKNOWN", "READ_FAILED"))
        ds("legal", "briefs", ("UNKNOWN", "READ_FAILED"), "S3", foreign_key)
        restricted = kb("restricted", role)
        ds("restricted", "vault", ("UNKNOWN", "READ_FAILED"))
        partner = kb("partner", role)
        for name in ("feeds", "catalog"):
            estate.data_source(partner, name)
        built.expected[partner] = ("UNKNOWN", "READ_FAILED")

    legal = built.knowledge_bases["legal"]
    denied = Fault.ACCESS_DENIED
    account.faults.add(
        "bedrock-agent", "GetDataSource", denied, params={"knowledgeBaseId": legal, "dataSourceId": cases}
    )
    account.faults.add("kms", "DescribeKey", denied, params={"KeyId": foreign_key})
    account.faults.add("bedrock-agent", "GetKnowledgeBase", denied, params={"knowledgeBaseId": restricted})
    account.faults.add("bedrock-agent", "ListDataSources", denied, params={"knowledgeBaseId": partner})
    return built
