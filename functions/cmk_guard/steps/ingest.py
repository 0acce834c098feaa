"""ingest: start an ingestion job after the update and poll it, so Bedrock uses the new key (and leaves KMS events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cmk_guard.errors import ConflictError, IngestionBusyError

if TYPE_CHECKING:
    from cmk_guard.adapters.bedrock import BedrockAgent
    from cmk_guard.config import Settings
    from cmk_guard.core.models import Target

TERMINAL = frozenset({"COMPLETE", "FAILED", "STOPPED"})
KMS_FAILURE_MARKERS = ("AccessDenied", "KMS", "kms:", "DisabledException", "KMSInvalidState")


def _client_token(execution_arn: str, attempt: int = 0) -> str:
    """Idempotent per execution and attempt (33 to 256 characters): a retried start never starts a second job,
    while the one restart after a key policy repair (``attempt`` 1) starts a new one."""
    suffix = f"-{attempt}" if attempt else ""
    return f"cmk-guard-{execution_arn.rsplit(':', 1)[-1]}{suffix}".ljust(33, "0")[:256]


def _summary(job: dict[str, Any]) -> dict[str, Any]:
    reasons = [str(r)[:500] for r in job.get("failureReasons") or []][:5]
    return {
        "jobId": job["ingestionJobId"],
        "status": job["status"],
        "failureReasons": reasons,
        "kmsFailure": any(marker in r for r in reasons for marker in KMS_FAILURE_MARKERS),
    }


def start_ingestion(
    target: Target, execution_arn: str, settings: Settings, bedrock: BedrockAgent, attempt: int = 0
) -> dict[str, Any]:
    token = _client_token(execution_arn, attempt)
    try:
        job = bedrock.start_ingestion_job(target.knowledge_base_id, target.data_source_id, token)
    except ConflictError as exc:  # one job per data source at a time: someone else's is running
        raise IngestionBusyError(f"{exc}; cmk-guard starts its own ingestion when that job ends") from exc
    deadline = datetime.now(UTC) + timedelta(minutes=settings.ingestion_timeout_minutes)
    return {
        **_summary(job),
        "done": job["status"] in TERMINAL,
        "deadline": deadline.isoformat(),
        "waitSeconds": settings.ingestion_poll_seconds,
    }


def poll_ingestion(target: Target, previous: dict[str, Any], settings: Settings, bedrock: BedrockAgent) -> dict[str, Any]:
    job = bedrock.get_ingestion_job(target.knowledge_base_id, target.data_source_id, previous["jobId"])
    summary = _summary(job)
    timed_out = datetime.now(UTC) >= datetime.fromisoformat(previous["deadline"])
    return {
        **summary,
        "done": job["status"] in TERMINAL or timed_out,
        "timedOut": timed_out and job["status"] not in TERMINAL,
        "deadline": previous["deadline"],
        "waitSeconds": settings.ingestion_poll_seconds,
    }
