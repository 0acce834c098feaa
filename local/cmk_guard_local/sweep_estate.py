"""A large estate for the sweep: 10,000 data sources in 1,000 knowledge bases, built through boto3 as an admin would.

Shared by the sweep scale test and ``make bench``, so both measure the same estate: every ``large_every``-th
knowledge base has 29 data sources (two pages of 25), the others 9; every ``exempt_every``-th is tagged exempt; the
first ``non_compliant`` knowledge bases each have one data source without a key; every other data source is on one
customer-managed key.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from cmk_guard_local.emulator import EmulatedAccount, acting_as
from cmk_guard_local.scenario import EMBEDDING_MODEL, Estate


@dataclass(frozen=True)
class SweepEstate:
    knowledge_bases: int = 1_000
    large_every: int = 20
    large_size: int = 29
    small_size: int = 9
    exempt_every: int = 100
    non_compliant: int = 50

    def sizes(self) -> list[int]:
        """Data sources per knowledge base, in creation order."""
        return [self.large_size if k % self.large_every == 0 else self.small_size for k in range(self.knowledge_bases)]

    def build(self, account: EmulatedAccount) -> dict[str, tuple[str, str]]:
        """Create the estate: ``{data source id: (knowledge base id, expected verdict)}``."""
        estate = Estate(account.region, account.account_id)
        agent = boto3.client("bedrock-agent", region_name=account.region)
        expected: dict[str, tuple[str, str]] = {}
        with acting_as(f"arn:aws:iam::{account.account_id}:user/alice"):
            role = estate.kb_role()
            key = estate.customer_key([role])
            for k, size in enumerate(self.sizes()):
                exempt = k % self.exempt_every == self.exempt_every - 1
                kb = agent.create_knowledge_base(
                    name=f"kb-{k:04d}",
                    roleArn=role,
                    knowledgeBaseConfiguration={
                        "type": "VECTOR",
                        "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING_MODEL.format(region=account.region)},
                    },
                    **({"tags": {"cmk-guard:mode": "exempt"}} if exempt else {}),
                )["knowledgeBase"]["knowledgeBaseId"]
                for d in range(size):
                    without_key = d == 0 and k < self.non_compliant
                    request = {"knowledgeBaseId": kb, "name": f"docs-{d}",
                               "dataSourceConfiguration": {"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::acme-kb-documents"}}}
                    if not without_key:
                        request["serverSideEncryptionConfiguration"] = {"kmsKeyArn": key}
                    ds = agent.create_data_source(**request)["dataSource"]["dataSourceId"]
                    verdict = "SKIPPED" if exempt else ("NON_COMPLIANT" if without_key else "COMPLIANT")
                    expected[ds] = (kb, verdict)
        return expected
