"""The sweep's steps: list a page of knowledge bases, evaluate a page of one knowledge base's data sources, start
the remediate workflow for the non-compliant ones, and report. Each step does a bounded amount of work.

``evaluate_page`` is also what ``cmk-guard scan`` runs, so the sweep and the CLI decide every verdict the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmk_guard.adapters.kms import KeyFactsOnce
from cmk_guard.core.events import SWEEP_EVENT_NAME, sweep_event, sweep_event_id
from cmk_guard.core.models import Mode, Target, Verdict
from cmk_guard.core.sweep import (
    Cursor,
    KnowledgeBaseSweep,
    Pending,
    SweepCounts,
    SweepFinding,
    SweepProgress,
    add_results,
    already_notified,
    context_from_execution,
    execution_arn_for,
    metric_points,
    tally,
)
from cmk_guard.core.verdict import unknown
from cmk_guard.errors import AccessDeniedError, ResourceGoneError
from cmk_guard.steps.assess import Assessment, KnowledgeBaseView, assess_data_source, read_knowledge_base

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cmk_guard.adapters.bedrock import BedrockAgent
    from cmk_guard.adapters.kms import Kms
    from cmk_guard.adapters.ledger import Ledger
    from cmk_guard.adapters.workflows import Workflows
    from cmk_guard.core.report import MetricPoint


# -- list ------------------------------------------------------------------------------------------------------
def list_knowledge_bases(
    progress: SweepProgress, execution_arn: str, bedrock: BedrockAgent, page_size: int
) -> SweepProgress:
    """Fold the previous page's results into the totals, then read the next page of knowledge base ids."""
    progress = add_results(progress)
    sweep = progress.sweep or context_from_execution(execution_arn)
    if progress.pages > 0 and not progress.next_token:
        return progress.model_copy(update={"sweep": sweep, "knowledge_base_ids": [], "finished": True})
    ids, token = bedrock.list_knowledge_bases(progress.next_token, page_size)
    return progress.model_copy(
        update={
            "sweep": sweep,
            "knowledge_base_ids": ids,
            "next_token": token,
            "pages": progress.pages + 1,
            "finished": not ids and not token,
        }
    )


# -- evaluate --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageResult:
    findings: list[SweepFinding]
    cursor: Cursor | None  # where to resume; None when the knowledge base is done


def _finding(region: str, knowledge_base_id: str, summary: dict[str, Any], assessment: Assessment) -> SweepFinding:
    kb, ds, evaluation = assessment.knowledge_base, assessment.data_source, assessment.evaluation
    return SweepFinding(
        region=region,
        knowledge_base_id=knowledge_base_id,
        knowledge_base_name=kb.name if kb else None,
        data_source_id=str(summary["dataSourceId"]),
        data_source_name=ds.name if ds else summary.get("name"),
        data_source_type=ds.type if ds else None,
        verdict=evaluation.verdict,
        reason=evaluation.reason,
        detail=evaluation.detail,
        key_arn=(ds.kms_key_arn if ds else None) or evaluation.current_key_arn,
        mode=assessment.mode if assessment.decision else None,
    )


def _unreadable_knowledge_base(region: str, knowledge_base_id: str, error: Exception) -> SweepFinding:
    evaluation = unknown(f"cannot list the data sources of knowledge base {knowledge_base_id}: {error}")
    return SweepFinding(
        region=region,
        knowledge_base_id=knowledge_base_id,
        verdict=evaluation.verdict,
        reason=evaluation.reason,
        detail=evaluation.detail,
    )


def evaluate_page(
    bedrock: BedrockAgent,
    kms: Callable[[str], Kms],
    region: str,
    knowledge_base_id: str,
    cursor: Cursor,
    page_size: int,
    default_mode: Mode,
    *,
    keep_going: Callable[[], bool] = lambda: True,
    strict: bool = True,
) -> PageResult:
    """Evaluate at most ``page_size`` data sources: one ListDataSources page, from ``cursor``.

    Stops early (returning a cursor into the same page) when ``keep_going`` says time is short. A denied listing is
    one ``UNKNOWN`` finding for the knowledge base. With ``strict`` a read that still fails after the SDK's retries
    raises (the state machine retries the page); without it (the CLI) it becomes ``UNKNOWN`` with the error.
    """
    try:
        summaries, next_token = bedrock.list_data_sources(knowledge_base_id, cursor.page_token, page_size)
    except ResourceGoneError:
        return PageResult([], None)  # deleted since it was listed: nothing left to evaluate
    except AccessDeniedError as exc:
        return PageResult([_unreadable_knowledge_base(region, knowledge_base_id, exc)], None)
    except Exception as exc:  # noqa: BLE001 - lenient mode reports any failed read as UNKNOWN with its error
        if strict:
            raise
        return PageResult([_unreadable_knowledge_base(region, knowledge_base_id, exc)], None)
    done = Cursor(page_token=next_token) if next_token else None
    todo = summaries[cursor.skip :]
    if not todo:
        return PageResult([], done)
    try:
        view = read_knowledge_base(bedrock, knowledge_base_id, default_mode)
    except Exception as exc:  # noqa: BLE001 - lenient mode reports any failed read as UNKNOWN with its error
        if strict:
            raise
        view = KnowledgeBaseView(knowledge_base_id, failure=unknown(str(exc)))
    findings: list[SweepFinding] = []
    kms = KeyFactsOnce(kms)  # the page's data sources usually share a key: describe it once
    for index, summary in enumerate(todo):
        if findings and not keep_going():
            return PageResult(findings, Cursor(page_token=cursor.page_token, skip=cursor.skip + index))
        try:
            assessment = assess_data_source(view, region, str(summary["dataSourceId"]), bedrock, kms)
        except Exception as exc:  # noqa: BLE001 - as above
            if strict:
                raise
            assessment = Assessment(unknown(str(exc)), view.facts, view.decision)
        findings.append(_finding(region, knowledge_base_id, summary, assessment))
    return PageResult(findings, done)


def run_evaluate(
    state: KnowledgeBaseSweep,
    bedrock: BedrockAgent,
    kms: Callable[[str], Kms],
    default_mode: Mode,
    page_size: int,
    now: datetime,
    keep_going: Callable[[], bool],
) -> tuple[KnowledgeBaseSweep, list[SweepFinding]]:
    """One bounded evaluation of a knowledge base; the non-compliant data sources become ``pending``."""
    sweep = state.sweep
    page = evaluate_page(
        bedrock,
        kms,
        sweep.region,
        state.knowledge_base_id,
        state.cursor or Cursor(),
        page_size,
        default_mode,
        keep_going=keep_going,
    )
    pending = [
        Pending(
            data_source_id=f.data_source_id,
            reason=f.reason,
            mode=f.mode,
            current_key_arn=f.key_arn,
            observed_at=now,
        )
        for f in page.findings
        if f.verdict is Verdict.NON_COMPLIANT and f.data_source_id and f.mode is not None
    ]
    updated = state.model_copy(
        update={
            "counts": tally(page.findings, state.counts),
            "cursor": page.cursor,
            "more": page.cursor is not None,
            "pending": pending,
            "start_needed": bool(pending),
        }
    )
    return updated, page.findings


# -- start -----------------------------------------------------------------------------------------------------
def run_start(
    state: KnowledgeBaseSweep, state_machine_arn: str, ledger: Ledger, workflows: Workflows
) -> tuple[KnowledgeBaseSweep, list[dict[str, Any]]]:
    """Start the remediate workflow for each pending data source, unless a remediation of it holds the lock or
    (notify mode) the same finding was already notified. Returns the new state and what was decided per item."""
    sweep, counts, decisions = state.sweep, state.counts, []
    for item in state.pending:
        name = sweep_event_id(sweep.sweep_id, state.knowledge_base_id, item.data_source_id)
        target = _target(state, item, name)
        own_arn = execution_arn_for(state_machine_arn, name)
        holder = ledger.active_lock_holder(target)
        if holder is not None and holder != own_arn:
            counts = counts.plus(in_progress=1)
            decisions.append({"dataSourceId": item.data_source_id, "action": "in-progress", "holder": holder})
            continue
        if holder is None and item.mode is Mode.NOTIFY and already_notified(ledger.latest_outcome(target), item):
            counts = counts.plus(already_notified=1)
            decisions.append({"dataSourceId": item.data_source_id, "action": "already-notified"})
            continue
        payload = sweep_event(
            sweep.account_id, sweep.region, state.knowledge_base_id, item.data_source_id, sweep.sweep_id,
            item.observed_at,
        )
        execution_arn, new = workflows.start(state_machine_arn, name, payload)
        counts = counts.plus(started=1)
        decisions.append(
            {"dataSourceId": item.data_source_id, "action": "started", "executionArn": execution_arn, "new": new}
        )
    return state.model_copy(update={"counts": counts, "pending": [], "start_needed": False}), decisions


def _target(state: KnowledgeBaseSweep, item: Pending, event_id: str) -> Target:
    return Target(
        account_id=state.sweep.account_id,
        region=state.sweep.region,
        knowledge_base_id=state.knowledge_base_id,
        data_source_id=item.data_source_id,
        event_id=event_id,
        event_name=SWEEP_EVENT_NAME,
        event_time=item.observed_at,
    )


# -- report ----------------------------------------------------------------------------------------------------
def run_report(progress: SweepProgress) -> tuple[dict[str, Any], list[MetricPoint]]:
    """The sweep's summary (its execution output) and its metrics."""
    progress = add_results(progress)
    totals: SweepCounts = progress.totals
    summary = {
        "sweepId": progress.sweep.sweep_id if progress.sweep else None,
        "totals": totals.to_state(),
        "evaluated": totals.evaluated,
        "complianceRatio": totals.compliance_ratio,
        "failedKnowledgeBases": progress.failed,
    }
    return summary, metric_points(totals)
