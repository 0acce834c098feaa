"""In-memory ``bedrock-agent`` knowledge bases, tags, data sources and ingestion jobs, true to the botocore model."""

from __future__ import annotations

import base64
import copy
import json
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.model import OperationModel

from .ingestion import STATISTICS, use_key
from .shapes import constraint_errors
from .wire import ServiceError

_ALNUM = string.ascii_uppercase + string.digits
_KB_CONFIG = {"VECTOR": "vectorKnowledgeBaseConfiguration", "KENDRA": "kendraKnowledgeBaseConfiguration",
              "SQL": "sqlKnowledgeBaseConfiguration", "MANAGED": "managedKnowledgeBaseConfiguration"}
_DS_CONFIG = {"S3": "s3Configuration", "WEB": "webConfiguration", "CONFLUENCE": "confluenceConfiguration",
              "SALESFORCE": "salesforceConfiguration", "SHAREPOINT": "sharePointConfiguration",
              "MANAGED_KNOWLEDGE_BASE_CONNECTOR": "managedKnowledgeBaseConnectorConfiguration",
              "CUSTOM": None, "REDSHIFT_METADATA": None}
_DS_MEMBERS = ("name", "description", "dataSourceConfiguration", "dataDeletionPolicy",
               "serverSideEncryptionConfiguration", "vectorIngestionConfiguration")
_RUNNING = ("STARTING", "IN_PROGRESS")

OPERATIONS = frozenset({
    "CreateKnowledgeBase", "GetKnowledgeBase", "ListKnowledgeBases", "DeleteKnowledgeBase", "TagResource",
    "UntagResource", "ListTagsForResource", "CreateDataSource", "GetDataSource", "UpdateDataSource",
    "ListDataSources", "DeleteDataSource", "StartIngestionJob", "GetIngestionJob", "ListIngestionJobs",
})


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Job:
    data: dict
    key_arn: str | None
    role_arn: str
    polls: int = 0


@dataclass
class _Store:
    """One account and region."""

    kbs: dict[str, dict] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, dict]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], dict[str, _Job]] = field(default_factory=dict)
    tokens: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


class BedrockAgentEmulator:
    """Knowledge bases, data sources and ingestion jobs per (account, region).

    ``ingestion_polls_to_finish``: the GetIngestionJob call that finishes a job (earlier ones see IN_PROGRESS).
    ``default_page_size``: List page size when ``maxResults`` is omitted.
    ``reject_concurrent_ingestion``: StartIngestionJob on a data source with a running job → ConflictException.
    """

    def __init__(self, record_kms_event: Callable[[str, str, dict], None], account_id: str = "123456789012",
                 region: str = "us-east-1") -> None:
        self.account_id, self.region = account_id, region
        self.ingestion_polls_to_finish = 2
        self.default_page_size = 10
        self.reject_concurrent_ingestion = False
        self._record = record_kms_event
        self._stores: dict[tuple[str, str], _Store] = {}
        self._lock = threading.RLock()

    # -- inspection -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._stores.clear()
        self.ingestion_polls_to_finish, self.default_page_size, self.reject_concurrent_ingestion = 2, 10, False

    def knowledge_bases(self, account: str | None = None, region: str | None = None) -> list[dict]:
        """Deep copies of the stored knowledge bases (GetKnowledgeBase form); default: the account's own."""
        with self._lock:
            store = self._store(account or self.account_id, region or self.region)
            return copy.deepcopy(list(store.kbs.values()))

    def data_sources(self, knowledge_base_id: str, account: str | None = None,
                     region: str | None = None) -> list[dict]:
        """Deep copies of a knowledge base's stored data sources (GetDataSource form)."""
        with self._lock:
            store = self._store(account or self.account_id, region or self.region)
            return copy.deepcopy(list(store.sources.get(knowledge_base_id, {}).values()))

    # -- dispatch ---------------------------------------------------------------------------------------------
    def handle(self, operation: OperationModel, params: dict, account: str, region: str) -> dict:
        """Run one operation and return its output (Python form); raise ``ServiceError`` as the service would."""
        if operation.name not in OPERATIONS:
            raise NotImplementedError(operation.name)
        errors = constraint_errors(operation.input_shape, params) if operation.input_shape is not None else []
        if errors:
            count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
            raise ServiceError("ValidationException", f"{count}: {'; '.join(errors)}")
        records: list[tuple[str, str, dict]] = []
        with self._lock:
            store = self._store(account, region)
            output = getattr(self, f"_{operation.name}")(store, copy.deepcopy(params), account, region, records)
            output = copy.deepcopy(output)
        for acct, reg, record in records:
            self._record(acct, reg, record)
        return output

    def _store(self, account: str, region: str) -> _Store:
        return self._stores.setdefault((account, region), _Store())

    # -- helpers ----------------------------------------------------------------------------------------------
    @staticmethod
    def _new_id(taken: Any) -> str:
        while True:
            new = "".join(secrets.choice(_ALNUM) for _ in range(10))
            if new not in taken:
                return new

    @staticmethod
    def _kb(store: _Store, kb_id: str) -> dict:
        kb = store.kbs.get(kb_id)
        if kb is None:
            raise ServiceError("ResourceNotFoundException", f"Knowledge base with id {kb_id} does not exist")
        return kb

    def _ds(self, store: _Store, kb_id: str, ds_id: str) -> dict:
        self._kb(store, kb_id)
        ds = store.sources.get(kb_id, {}).get(ds_id)
        if ds is None:
            raise ServiceError("ResourceNotFoundException",
                               f"Data source with id {ds_id} does not exist in knowledge base {kb_id}")
        return ds

    def _page(self, items: list, params: dict, scope: str) -> tuple[list, str | None]:
        size = params.get("maxResults") or self.default_page_size
        offset = 0
        token = params.get("nextToken")
        if token is not None:
            try:
                data = json.loads(base64.urlsafe_b64decode(token.encode()))
                if data["s"] != scope:
                    raise ValueError(scope)
                offset = int(data["o"])
            except (ValueError, KeyError, TypeError):
                raise ServiceError("ValidationException", "The provided nextToken is not valid.") from None
        end = offset + size
        nxt = base64.urlsafe_b64encode(json.dumps({"s": scope, "o": end}).encode()).decode() if end < len(items) \
            else None
        return items[offset:end], nxt

    @staticmethod
    def _check_union(config: dict, type_map: dict[str, str | None], what: str) -> None:
        kind = config.get("type")
        wanted = type_map.get(kind)
        present = [k for k in config if k != "type" and config[k] is not None]
        if wanted is not None and wanted not in present:
            raise ServiceError("ValidationException", f"{what} of type {kind} requires {wanted}.")
        extra = [k for k in present if k != wanted]
        if extra:
            raise ServiceError("ValidationException", f"{what} of type {kind} does not accept {', '.join(extra)}.")

    def _idempotent(self, store: _Store, op: str, params: dict) -> tuple[str, ...] | None:
        token = params.pop("clientToken", None)
        return store.tokens.get((op, token)) if token else None

    @staticmethod
    def _remember(store: _Store, op: str, token: str | None, ids: tuple[str, ...]) -> None:
        if token:
            store.tokens[(op, token)] = ids

    # -- knowledge bases --------------------------------------------------------------------------------------
    def _CreateKnowledgeBase(self, store: _Store, p: dict, account: str, region: str, _: list) -> dict:
        token = p.get("clientToken")
        seen = self._idempotent(store, "CreateKnowledgeBase", p)
        if seen:
            return {"knowledgeBase": self._kb(store, seen[0])}
        self._check_union(p["knowledgeBaseConfiguration"], _KB_CONFIG, "knowledgeBaseConfiguration")
        kb_id, now = self._new_id(store.kbs), _now()
        kb = {"knowledgeBaseId": kb_id, "name": p["name"],
              "knowledgeBaseArn": f"arn:aws:bedrock:{region}:{account}:knowledge-base/{kb_id}",
              "description": p.get("description"), "roleArn": p["roleArn"],
              "knowledgeBaseConfiguration": p["knowledgeBaseConfiguration"],
              "storageConfiguration": p.get("storageConfiguration"), "status": "ACTIVE",
              "createdAt": now, "updatedAt": now}
        store.kbs[kb_id] = {k: v for k, v in kb.items() if v is not None}
        store.sources[kb_id] = {}
        store.tags[kb["knowledgeBaseArn"]] = dict(p.get("tags") or {})
        self._remember(store, "CreateKnowledgeBase", token, (kb_id,))
        return {"knowledgeBase": store.kbs[kb_id]}

    def _GetKnowledgeBase(self, store: _Store, p: dict, *_: Any) -> dict:
        return {"knowledgeBase": self._kb(store, p["knowledgeBaseId"])}

    def _ListKnowledgeBases(self, store: _Store, p: dict, *_: Any) -> dict:
        keys = ("knowledgeBaseId", "name", "description", "status", "updatedAt")
        items = [{k: kb[k] for k in keys if k in kb} for kb in store.kbs.values()]
        page, nxt = self._page(items, p, "kb")
        return {"knowledgeBaseSummaries": page, **({"nextToken": nxt} if nxt else {})}

    def _DeleteKnowledgeBase(self, store: _Store, p: dict, *_: Any) -> dict:
        kb = self._kb(store, p["knowledgeBaseId"])
        del store.kbs[kb["knowledgeBaseId"]]
        store.tags.pop(kb["knowledgeBaseArn"], None)
        for ds_id in store.sources.pop(kb["knowledgeBaseId"], {}):
            store.jobs.pop((kb["knowledgeBaseId"], ds_id), None)
        return {"knowledgeBaseId": kb["knowledgeBaseId"], "status": "DELETING"}

    # -- tags -------------------------------------------------------------------------------------------------
    @staticmethod
    def _tags(store: _Store, arn: str) -> dict[str, str]:
        if arn not in store.tags:
            raise ServiceError("ResourceNotFoundException", f"Resource {arn} does not exist")
        return store.tags[arn]

    def _TagResource(self, store: _Store, p: dict, *_: Any) -> dict:
        self._tags(store, p["resourceArn"]).update(p["tags"])
        return {}

    def _UntagResource(self, store: _Store, p: dict, *_: Any) -> dict:
        tags = self._tags(store, p["resourceArn"])
        for key in p["tagKeys"]:
            tags.pop(key, None)
        return {}

    def _ListTagsForResource(self, store: _Store, p: dict, *_: Any) -> dict:
        return {"tags": dict(self._tags(store, p["resourceArn"]))}

    # -- data sources -----------------------------------------------------------------------------------------
    def _CreateDataSource(self, store: _Store, p: dict, *_: Any) -> dict:
        token = p.get("clientToken")
        kb_id = p["knowledgeBaseId"]
        self._kb(store, kb_id)
        seen = self._idempotent(store, "CreateDataSource", p)
        if seen:
            return {"dataSource": self._ds(store, kb_id, seen[1])}
        self._check_union(p["dataSourceConfiguration"], _DS_CONFIG, "dataSourceConfiguration")
        ds_id, now = self._new_id(store.sources[kb_id]), _now()
        ds = {"knowledgeBaseId": kb_id, "dataSourceId": ds_id, "status": "AVAILABLE", "createdAt": now,
              "updatedAt": now, **{k: p[k] for k in _DS_MEMBERS if p.get(k) is not None}}
        store.sources[kb_id][ds_id] = ds
        self._remember(store, "CreateDataSource", token, (kb_id, ds_id))
        return {"dataSource": ds}

    def _GetDataSource(self, store: _Store, p: dict, *_: Any) -> dict:
        return {"dataSource": self._ds(store, p["knowledgeBaseId"], p["dataSourceId"])}

    def _UpdateDataSource(self, store: _Store, p: dict, *_: Any) -> dict:
        old = self._ds(store, p["knowledgeBaseId"], p["dataSourceId"])
        self._check_union(p["dataSourceConfiguration"], _DS_CONFIG, "dataSourceConfiguration")
        if p["dataSourceConfiguration"]["type"] != old["dataSourceConfiguration"]["type"]:
            raise ServiceError("ValidationException", "You can't change the data source type "
                               f"({old['dataSourceConfiguration']['type']}) of an existing data source.")
        old_vic, new_vic = old.get("vectorIngestionConfiguration") or {}, p.get("vectorIngestionConfiguration") or {}
        if old_vic.get("chunkingConfiguration") != new_vic.get("chunkingConfiguration"):
            raise ServiceError("ValidationException", "You can't change the chunkingConfiguration after you create "
                               "the data source connector. Specify the existing chunkingConfiguration.")
        strategy = [(v.get("parsingConfiguration") or {}).get("parsingStrategy") for v in (old_vic, new_vic)]
        if strategy[0] != strategy[1]:
            raise ServiceError("ValidationException", "You can't change the parsing strategy "
                               f"({strategy[0]}) after connecting to the data source.")
        new = {k: old[k] for k in ("knowledgeBaseId", "dataSourceId", "status", "createdAt")}
        new.update({k: p[k] for k in _DS_MEMBERS if p.get(k) is not None})
        new["updatedAt"] = _now()
        store.sources[p["knowledgeBaseId"]][p["dataSourceId"]] = new
        return {"dataSource": new}

    def _ListDataSources(self, store: _Store, p: dict, *_: Any) -> dict:
        self._kb(store, p["knowledgeBaseId"])
        keys = ("knowledgeBaseId", "dataSourceId", "name", "status", "description", "updatedAt")
        items = [{k: ds[k] for k in keys if k in ds} for ds in store.sources[p["knowledgeBaseId"]].values()]
        page, nxt = self._page(items, p, f"ds/{p['knowledgeBaseId']}")
        return {"dataSourceSummaries": page, **({"nextToken": nxt} if nxt else {})}

    def _DeleteDataSource(self, store: _Store, p: dict, *_: Any) -> dict:
        ds = self._ds(store, p["knowledgeBaseId"], p["dataSourceId"])
        del store.sources[p["knowledgeBaseId"]][p["dataSourceId"]]
        store.jobs.pop((p["knowledgeBaseId"], p["dataSourceId"]), None)
        return {"knowledgeBaseId": ds["knowledgeBaseId"], "dataSourceId": ds["dataSourceId"], "status": "DELETING"}

    # -- ingestion jobs ---------------------------------------------------------------------------------------
    def _StartIngestionJob(self, store: _Store, p: dict, *_: Any) -> dict:
        token = p.get("clientToken")
        kb_id, ds_id = p["knowledgeBaseId"], p["dataSourceId"]
        ds = self._ds(store, kb_id, ds_id)
        jobs = store.jobs.setdefault((kb_id, ds_id), {})
        seen = self._idempotent(store, "StartIngestionJob", p)
        if seen and seen[2] in jobs:
            return {"ingestionJob": jobs[seen[2]].data}
        if self.reject_concurrent_ingestion and any(j.data["status"] in _RUNNING for j in jobs.values()):
            raise ServiceError("ConflictException", f"An ingestion job is already running for data source {ds_id}.")
        job_id, now = self._new_id(jobs), _now()
        data = {"knowledgeBaseId": kb_id, "dataSourceId": ds_id, "ingestionJobId": job_id,
                "description": p.get("description"), "status": "STARTING", "startedAt": now, "updatedAt": now}
        key_arn = (ds.get("serverSideEncryptionConfiguration") or {}).get("kmsKeyArn")
        jobs[job_id] = _Job({k: v for k, v in data.items() if v is not None}, key_arn,
                            store.kbs[kb_id]["roleArn"])
        self._remember(store, "StartIngestionJob", token, (kb_id, ds_id, job_id))
        return {"ingestionJob": jobs[job_id].data}

    def _GetIngestionJob(self, store: _Store, p: dict, account: str, region: str, records: list) -> dict:
        self._ds(store, p["knowledgeBaseId"], p["dataSourceId"])
        job = store.jobs.get((p["knowledgeBaseId"], p["dataSourceId"]), {}).get(p["ingestionJobId"])
        if job is None:
            raise ServiceError("ResourceNotFoundException", f"Ingestion job {p['ingestionJobId']} does not exist")
        if job.data["status"] in _RUNNING:
            job.polls += 1
            job.data["updatedAt"] = _now()
            if job.polls >= max(1, self.ingestion_polls_to_finish):
                outcome = use_key(job.key_arn, job.role_arn, p["ingestionJobId"], region)
                job.data["status"] = outcome.status
                if outcome.status == "COMPLETE":
                    job.data["statistics"] = dict(STATISTICS)
                else:
                    job.data["statistics"] = {k: 0 for k in STATISTICS}
                    job.data["failureReasons"] = outcome.failure_reasons
                records += outcome.records
            else:
                job.data["status"] = "IN_PROGRESS"
        return {"ingestionJob": job.data}

    def _ListIngestionJobs(self, store: _Store, p: dict, *_: Any) -> dict:
        kb_id, ds_id = p["knowledgeBaseId"], p["dataSourceId"]
        self._ds(store, kb_id, ds_id)
        items = list(store.jobs.get((kb_id, ds_id), {}).values())
        for flt in p.get("filters") or []:
            items = [j for j in items if j.data["status"] in flt["values"]]
        sort = p.get("sortBy") or {"attribute": "STARTED_AT", "order": "DESCENDING"}
        field_name = "status" if sort["attribute"] == "STATUS" else "startedAt"
        items.sort(key=lambda j: j.data[field_name], reverse=sort["order"] == "DESCENDING")
        keys = ("knowledgeBaseId", "dataSourceId", "ingestionJobId", "description", "status", "startedAt",
                "updatedAt", "statistics")
        summaries = [{k: j.data[k] for k in keys if k in j.data} for j in items]
        page, nxt = self._page(summaries, p, f"job/{kb_id}/{ds_id}/{json.dumps(p.get('filters'))}/{sort}")
        return {"ingestionJobSummaries": page, **({"nextToken": nxt} if nxt else {})}
