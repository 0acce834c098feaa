"""The preventive hook: judge one proposed ``AWS::Bedrock::DataSource`` and answer CloudFormation.

The template decides first (``core.hook_verdict.assess``). Only a refusal makes the hook read anything: the
knowledge base (``GetKnowledgeBase``, for its type and ARN) and its tags (``ListTagsForResource``), which can lift
the refusal (``cmk-guard:mode=exempt``, or a ``MANAGED`` knowledge base). The knowledge base normally exists by then:
CloudFormation provisions it before the data source that references it. A read that fails, or a knowledge base id
still unresolved, leaves the refusal in place with the reason: without proof of the exemption the data source is
treated as not exempt, like the workflow treats unreadable tags. Because reads happen only on the way to a refusal,
a failed read can never block a data source that has a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmk_guard.core.hook_request import (
    DATA_SOURCE_TYPE,
    DELETE_INVOCATION,
    DataSourceTemplate,
    HookRequestError,
    InvalidResourceError,
    Unresolved,
    parse_request,
    read_data_source,
    stack_region,
)
from cmk_guard.core.hook_verdict import (
    HookDecision,
    HookFinding,
    KnowledgeBaseLookup,
    apply_knowledge_base,
    assess,
    invalid_request,
    invalid_resource,
    not_evaluated,
)
from cmk_guard.errors import CmkGuardError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cmk_guard.adapters.bedrock import BedrockAgent


def look_up_knowledge_base(ds: DataSourceTemplate, bedrock: BedrockAgent) -> KnowledgeBaseLookup:
    """The knowledge base's type and tags, or why they could not be read."""
    if isinstance(ds.knowledge_base, Unresolved):
        return KnowledgeBaseLookup(problem=f"its id is given as {ds.knowledge_base.text}, not resolved at hook time")
    try:
        raw = bedrock.get_knowledge_base(ds.knowledge_base)
    except CmkGuardError as exc:
        return KnowledgeBaseLookup(problem=str(exc))
    kind = str((raw.get("knowledgeBaseConfiguration") or {}).get("type", "")) or None
    try:
        tags = bedrock.list_tags(raw["knowledgeBaseArn"])
    except CmkGuardError as exc:
        return KnowledgeBaseLookup(type=kind, problem=str(exc))
    return KnowledgeBaseLookup(type=kind, tags=tags)


def evaluate_request(event: Any, default_region: str | None, bedrock: Callable[[str], BedrockAgent]) -> HookFinding:
    """The finding for one hook request. Bad input becomes a finding that says what is wrong; it never raises."""
    try:
        request = parse_request(event)
    except HookRequestError as exc:
        return invalid_request(str(exc))
    if request.target_name != DATA_SOURCE_TYPE or request.invocation_point == DELETE_INVOCATION:
        return not_evaluated(request.target_name, request.invocation_point)
    try:
        ds = read_data_source(request)
    except InvalidResourceError as exc:
        return invalid_resource(request.logical_id, str(exc))
    region = stack_region(request.stack_id) or default_region
    finding = assess(ds, region)
    if finding.decision is HookDecision.REFUSE and region:
        finding = apply_knowledge_base(finding, ds, look_up_knowledge_base(ds, bedrock(region)))
    elif finding.decision is HookDecision.REFUSE:
        finding = apply_knowledge_base(finding, ds, KnowledgeBaseLookup(problem="the stack's region is unknown"))
    return finding

