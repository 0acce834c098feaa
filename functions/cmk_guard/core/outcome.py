"""Turn the state a workflow accumulated into one outcome and a human-readable summary."""

from __future__ import annotations

import json
from typing import Any

from cmk_guard.core import approval as approvals
from cmk_guard.core.models import Mode, Outcome, Verdict
from cmk_guard.core.restore import restore_command

VERDICT_OUTCOMES = {
    Verdict.COMPLIANT: Outcome.ALREADY_COMPLIANT,
    Verdict.SKIPPED: Outcome.SKIPPED,
    Verdict.UNKNOWN: Outcome.UNKNOWN,
}


def decide_outcome(state: dict[str, Any]) -> Outcome:
    """The outcome of a finished workflow. Anything unexpected is ``FAILED``, never a success."""
    if state.get("error"):
        return Outcome.FAILED
    check = state.get("check") or {}
    try:
        verdict = Verdict(check.get("verdict"))
    except ValueError:
        return Outcome.FAILED
    if verdict in VERDICT_OUTCOMES:
        return VERDICT_OUTCOMES[verdict]
    mode = check.get("mode")
    if mode == Mode.NOTIFY:
        return Outcome.NOTIFIED
    approval = state.get("approval") or {}
    if approval.get("decision") == "rejected":
        return Outcome.APPROVAL_REJECTED
    if approval.get("decision") == "expired":
        return Outcome.APPROVAL_EXPIRED
    apply = state.get("apply") or {}
    if apply.get("alreadyCompliant"):
        return Outcome.ALREADY_COMPLIANT
    if not apply.get("applied"):
        return Outcome.FAILED
    ingestion = state.get("ingestion") or {}
    if ingestion.get("status") in {"FAILED", "STOPPED"}:
        return Outcome.FAILED
    verification = state.get("verification") or {}
    return Outcome.REMEDIATED_VERIFIED if verification.get("found") else Outcome.REMEDIATED_UNVERIFIED


def failure_reason(state: dict[str, Any]) -> str | None:
    """Why a FAILED outcome failed, in one line."""
    error = state.get("error")
    if error:
        name = error.get("Error", "Error")
        cause = error.get("Cause", "")
        return f"{name}: {_cause_message(cause)}"
    ingestion = state.get("ingestion") or {}
    if ingestion.get("status") in {"FAILED", "STOPPED"}:
        reasons = "; ".join(ingestion.get("failureReasons") or []) or "no reason given"
        after = _after_failed_ingestion(state)
        return f"ingestion job {ingestion.get('jobId')} ended {ingestion['status']}: {reasons}{after}"
    return None


def _after_failed_ingestion(state: dict[str, Any]) -> str:
    """What cmk-guard tried after the ingestion failed, and the way back (it never restores on its own)."""
    parts = []
    repair = state.get("repair") or {}
    if repair:
        done = "the role was put back and the ingestion retried once" if repair.get("repaired") else repair.get("cause")
        parts.append(f"key policy repair: {done}")
    problem = state.get("repairError")
    if problem:
        parts.append(f"key policy repair failed: {problem.get('Error')}: {_cause_message(problem.get('Cause', ''))}")
    target = state.get("target") or {}
    if (state.get("apply") or {}).get("applied") and target:
        command = restore_command(
            target.get("region", "?"), target.get("knowledgeBaseId", "?"), target.get("dataSourceId", "?")
        )
        parts.append(
            "the new key stays applied; the previous configuration is kept in the ledger, "
            f"restore it with: {command} --apply"
        )
    return "".join(f"; {part}" for part in parts)


def outcome_reason(state: dict[str, Any], outcome: Outcome) -> str | None:
    """One line saying why the outcome is what it is."""
    if outcome is Outcome.FAILED:
        return failure_reason(state) or "the workflow ended without applying the key"
    if outcome in {Outcome.APPROVAL_REJECTED, Outcome.APPROVAL_EXPIRED}:
        return approvals.summary(state.get("approval") or {})
    problem = state.get("verificationError")
    if outcome is Outcome.REMEDIATED_UNVERIFIED:
        if problem:
            return f"key applied; CloudTrail look-up failed: {problem.get('Error')}: {_cause_message(problem.get('Cause', ''))}"
        return "key applied; no KMS event on the key for the knowledge base before the verification deadline"
    return (state.get("check") or {}).get("detail")


def _cause_message(cause: str) -> str:
    """Step Functions passes a Lambda error as a JSON string; keep only its message."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)[:1000]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed)[:1000]
    return str(parsed)[:1000]
