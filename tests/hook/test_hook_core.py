"""The hook's pure core: reading the request, the verdict, the exemption and the response. No AWS here."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmk_guard.core.hook_request import (
    HookRequestError,
    InvalidResourceError,
    parse_request,
    read_data_source,
    stack_region,
    unresolved,
)
from cmk_guard.core.hook_response import MESSAGE_LIMIT, respond
from cmk_guard.core.hook_verdict import (
    ALIAS_ARN,
    KEY_ARN,
    HookDecision,
    HookReason,
    KnowledgeBaseLookup,
    apply_knowledge_base,
    assess,
)
from cmk_guard.core.models import Reason, Verdict
from cmk_guard.errors import AccessDeniedError
from cmk_guard.steps.hook import evaluate_request

from .requests import KB_ID, KEY_ARN as A_KEY_ARN, REGION, hook_request, properties

REFS = {
    "Ref": ({"Ref": "TeamKeyArn"}, "Ref TeamKeyArn"),
    "Fn::GetAtt list": ({"Fn::GetAtt": ["TeamKey", "Arn"]}, "Fn::GetAtt TeamKey.Arn"),
    "Fn::GetAtt dotted": ({"Fn::GetAtt": "TeamKey.Arn"}, "Fn::GetAtt TeamKey.Arn"),
    "Fn::ImportValue": ({"Fn::ImportValue": "shared-kb-key-arn"}, 'Fn::ImportValue shared-kb-key-arn'),
    "Fn::Sub": ({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${KeyId}"}, "Fn::Sub arn:"),
}


class FakeBedrock:
    """Stands in for the Bedrock adapter: a knowledge base with tags, or a refusal to read."""

    def __init__(self, tags: dict[str, str] | None = None, kb_type: str = "VECTOR", denied: bool = False) -> None:
        self.tags, self.kb_type, self.denied = tags or {}, kb_type, denied
        self.calls: list[str] = []

    def get_knowledge_base(self, knowledge_base_id: str) -> dict[str, Any]:
        self.calls.append(f"GetKnowledgeBase {knowledge_base_id}")
        if self.denied:
            raise AccessDeniedError(f"GetKnowledgeBase {knowledge_base_id}: AccessDeniedException: not authorized")
        return {
            "knowledgeBaseId": knowledge_base_id,
            "knowledgeBaseArn": f"arn:aws:bedrock:{REGION}:123456789012:knowledge-base/{knowledge_base_id}",
            "knowledgeBaseConfiguration": {"type": self.kb_type},
        }

    def list_tags(self, resource_arn: str) -> dict[str, str]:
        self.calls.append(f"ListTagsForResource {resource_arn}")
        return dict(self.tags)


def decide(request: Any, bedrock: FakeBedrock | None = None) -> tuple[Any, FakeBedrock]:
    bedrock = bedrock or FakeBedrock()
    return evaluate_request(request, REGION, lambda region: bedrock), bedrock  # type: ignore[arg-type,return-value]


# -- reading the request -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REFS))
def test_intrinsic_functions_are_recognised_and_described(name: str) -> None:
    value, text = REFS[name]
    found = unresolved(value)
    assert found is not None and found.text.startswith(text)


@pytest.mark.parametrize(
    "value", ["arn:aws:kms:...", {"KmsKeyArn": "x"}, {"Ref": "A", "Fn::Sub": "b"}, ["Ref"], None, 3]
)
def test_plain_values_are_not_intrinsics(value: Any) -> None:
    assert unresolved(value) is None


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ({}, "clientRequestToken"),
        ({"clientRequestToken": 7}, "clientRequestToken"),
        ({"clientRequestToken": "t"}, "actionInvocationPoint"),
        ({"clientRequestToken": "t", "actionInvocationPoint": "CREATE_PRE_PROVISION"}, "requestData is missing"),
        (
            {"clientRequestToken": "t", "actionInvocationPoint": "X", "requestData": "S3"},
            "requestData must be an object",
        ),
        ({"clientRequestToken": "t", "actionInvocationPoint": "X", "requestData": {}}, "targetName"),
        (
            {
                "clientRequestToken": "t",
                "actionInvocationPoint": "X",
                "requestData": {"targetName": "T", "targetModel": 1},
            },
            "targetModel must be an object",
        ),
    ],
)
def test_a_request_that_is_not_a_hook_request_names_the_field(event: Any, field: str) -> None:
    with pytest.raises(HookRequestError, match=re.escape(field)):
        parse_request(event)


def test_the_documented_request_is_read() -> None:
    request = parse_request(hook_request(properties(key=A_KEY_ARN), logical_id="Docs", token="tok-1"))
    assert (request.client_request_token, request.logical_id, request.target_name) == (
        "tok-1",
        "Docs",
        "AWS::Bedrock::DataSource",
    )
    assert stack_region(request.stack_id) == REGION
    ds = read_data_source(request)
    assert (ds.knowledge_base, ds.type, ds.key) == (KB_ID, "S3", A_KEY_ARN)


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        (None, "no resourceProperties"),
        ({"DataSourceConfiguration": {"Type": "S3"}}, "KnowledgeBaseId is missing"),
        (properties(knowledge_base=12), "KnowledgeBaseId must be"),
        (properties(knowledge_base="my-kb"), "KnowledgeBaseId must be"),
        ({"KnowledgeBaseId": KB_ID}, "DataSourceConfiguration is missing"),
        ({"KnowledgeBaseId": KB_ID, "DataSourceConfiguration": "S3"}, "DataSourceConfiguration must be an object"),
        (properties(kind=None), "DataSourceConfiguration.Type"),
        (properties(encryption="aws/bedrock"), "ServerSideEncryptionConfiguration must be an object"),
        (properties(key=12345), "KmsKeyArn must be a string"),
        (properties(key=["arn"]), "KmsKeyArn must be a string"),
    ],
)
def test_malformed_properties_name_the_field(props: dict[str, Any] | None, problem: str) -> None:
    with pytest.raises(InvalidResourceError, match=re.escape(problem)):
        read_data_source(parse_request(hook_request(props)))


# -- the key ARN patterns ------------------------------------------------------------------------------------------
def test_key_arn_pattern_is_the_bedrock_models() -> None:
    model = botocore.session.get_session().get_service_model("bedrock-agent")
    pattern = model.shape_for("ServerSideEncryptionConfiguration").members["kmsKeyArn"].metadata["pattern"]
    assert KEY_ARN.pattern == f"^{pattern}$"


@pytest.mark.parametrize(
    ("value", "key", "alias"),
    [
        (A_KEY_ARN, True, False),
        ("arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", True, False),
        ("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True, False),
        ("arn:aws:kms:us-east-1:123456789012:alias/team-key", False, True),
        ("arn:aws:kms:us-east-1:123456789012:alias/aws/bedrock", False, True),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", False, False),
        ("alias/team-key", False, False),
        (A_KEY_ARN + " ", False, False),
    ],
)
def test_key_and_alias_arn_shapes(value: str, key: bool, alias: bool) -> None:
    assert (bool(KEY_ARN.fullmatch(value)), bool(ALIAS_ARN.fullmatch(value))) == (key, alias)


# -- the verdict ---------------------------------------------------------------------------------------------------
def _assess(props: dict[str, Any], **kw: Any) -> Any:
    return assess(read_data_source(parse_request(hook_request(props, **kw))), REGION)


def test_no_key_is_refused_with_the_fix_and_the_knowledge_base_named() -> None:
    finding = _assess(properties(), logical_id="PoliciesDataSource")
    assert (finding.decision, finding.verdict, finding.reason) == (
        HookDecision.REFUSE,
        Verdict.NON_COMPLIANT,
        Reason.AWS_OWNED_KEY,
    )
    for expected in (KB_ID, "PoliciesDataSource", "SideEncryptionConfiguration.KmsKeyArn", "cmk-guard:mode=exempt"):
        assert expected in finding.message


def test_an_empty_key_is_no_key() -> None:
    assert _assess(properties(key="  ")).reason is Reason.AWS_OWNED_KEY
    assert _assess(properties(encryption={})).reason is Reason.AWS_OWNED_KEY


def test_an_update_that_drops_the_key_says_so() -> None:
    finding = _assess(properties(), previous=properties(key=A_KEY_ARN), point="UPDATE_PRE_PROVISION")
    assert finding.decision is HookDecision.REFUSE
    assert f"would remove the key it has now ({A_KEY_ARN})" in finding.detail


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("arn:aws:kms:us-east-1:123456789012:alias/team-key", HookReason.KEY_ALIAS_ARN),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", HookReason.KEY_ARN_MALFORMED),
        ("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", Reason.KEY_IN_OTHER_REGION),
    ],
)
def test_keys_bedrock_cannot_use_here_are_refused(key: str, reason: Any) -> None:
    finding = _assess(properties(key=key))
    assert (finding.decision, finding.reason) == (HookDecision.REFUSE, reason)
    assert key in finding.message and finding.remediation


def test_a_key_arn_is_allowed_and_says_the_workflow_checks_the_key() -> None:
    finding = _assess(properties(key=A_KEY_ARN))
    assert (finding.decision, finding.verdict, finding.reason) == (
        HookDecision.ALLOW,
        Verdict.COMPLIANT,
        HookReason.KEY_ARN_NAMED,
    )
    assert "workflow" in finding.message


@pytest.mark.parametrize("name", sorted(REFS))
def test_an_unresolved_key_is_allowed_with_a_warning(name: str) -> None:
    value, text = REFS[name]
    for props in (properties(key=value), properties(encryption=value)):
        finding = _assess(props)
        assert (finding.decision, finding.verdict, finding.reason) == (
            HookDecision.WARN,
            Verdict.UNKNOWN,
            HookReason.KEY_NOT_RESOLVED,
        )
        assert unresolved(value).text in finding.message  # type: ignore[union-attr]


def test_redshift_metadata_takes_no_key() -> None:
    finding = _assess(properties(kind="REDSHIFT_METADATA"))
    assert (finding.decision, finding.reason) == (HookDecision.ALLOW, Reason.NO_TRANSIENT_DATA_ENCRYPTION)


def test_an_unresolved_type_is_judged_on_its_key() -> None:
    assert _assess(properties(kind={"Ref": "SourceType"})).decision is HookDecision.REFUSE


# -- the exemption -------------------------------------------------------------------------------------------------
def _refusal() -> tuple[Any, Any]:
    ds = read_data_source(parse_request(hook_request(properties())))
    return assess(ds, REGION), ds


@pytest.mark.parametrize("value", ["exempt", " Exempt ", "EXEMPT"])
def test_the_exempt_tag_lifts_the_refusal(value: str) -> None:
    finding, ds = _refusal()
    lifted = apply_knowledge_base(
        finding, ds, KnowledgeBaseLookup(tags={"cmk-guard:mode": value, "cmk-guard:exempt-reason": "public data"})
    )
    assert (lifted.decision, lifted.verdict, lifted.reason) == (HookDecision.ALLOW, Verdict.SKIPPED, Reason.EXEMPT)
    assert "public data" in lifted.message


@pytest.mark.parametrize(
    "tags", [{}, {"cmk-guard:mode": "notify"}, {"cmk-guard:mode": "exempted"}, {"owner": "exempt"}]
)
def test_other_tags_leave_the_refusal(tags: dict[str, str]) -> None:
    finding, ds = _refusal()
    kept = apply_knowledge_base(finding, ds, KnowledgeBaseLookup(tags=tags, type="VECTOR"))
    assert kept.decision is HookDecision.REFUSE
    assert "not tagged cmk-guard:mode=exempt" in kept.message


def test_a_managed_knowledge_base_is_not_judged_on_its_data_sources() -> None:
    finding, ds = _refusal()
    lifted = apply_knowledge_base(finding, ds, KnowledgeBaseLookup(type="MANAGED", problem="tags: denied"))
    assert (lifted.decision, lifted.reason) == (HookDecision.ALLOW, Reason.MANAGED_KNOWLEDGE_BASE)


def test_an_unreadable_exemption_leaves_the_refusal_and_says_why() -> None:
    finding, ds = _refusal()
    kept = apply_knowledge_base(finding, ds, KnowledgeBaseLookup(problem="ListTagsForResource: AccessDeniedException"))
    assert kept.decision is HookDecision.REFUSE
    assert "could not check whether knowledge base" in kept.message and "AccessDeniedException" in kept.message


def test_allowed_findings_are_never_changed_by_the_knowledge_base() -> None:
    ds = read_data_source(parse_request(hook_request(properties(key=A_KEY_ARN))))
    finding = assess(ds, REGION)
    assert apply_knowledge_base(finding, ds, KnowledgeBaseLookup(problem="denied")) is finding


def test_knowledge_base_reads_happen_only_on_the_way_to_a_refusal() -> None:
    _, bedrock = decide(hook_request(properties(key=A_KEY_ARN)))
    assert bedrock.calls == []
    _, bedrock = decide(hook_request(properties(key={"Ref": "K"})))
    assert bedrock.calls == []
    finding, bedrock = decide(hook_request(properties()))
    assert finding.decision is HookDecision.REFUSE
    assert [c.split()[0] for c in bedrock.calls] == ["GetKnowledgeBase", "ListTagsForResource"]


def test_a_denied_read_keeps_the_refusal() -> None:
    finding, _ = decide(hook_request(properties()), FakeBedrock(denied=True))
    assert finding.decision is HookDecision.REFUSE and "AccessDeniedException" in finding.message


def test_an_unresolved_knowledge_base_id_cannot_prove_an_exemption() -> None:
    reference = {"Fn::GetAtt": ["HandbookKb", "KnowledgeBaseId"]}
    finding, bedrock = decide(hook_request(properties(knowledge_base=reference)))
    assert finding.decision is HookDecision.REFUSE
    assert "HandbookKb (Fn::GetAtt HandbookKb.KnowledgeBaseId)" in finding.message
    assert "not resolved at hook time" in finding.message
    assert bedrock.calls == []


# -- what is not cmk-guard's to judge ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_",
    [
        hook_request(properties(), target="AWS::S3::Bucket"),
        hook_request(None, point="DELETE_PRE_PROVISION", previous=properties()),
    ],
)
def test_other_resources_and_deletes_are_not_evaluated(request_: dict[str, Any]) -> None:
    finding, bedrock = decide(request_)
    assert (finding.decision, finding.reason) == (HookDecision.ALLOW, HookReason.NOT_EVALUATED)
    assert bedrock.calls == []


# -- the response --------------------------------------------------------------------------------------------------
def test_responses_follow_the_documented_shape() -> None:
    cases = {
        "refuse": (hook_request(properties(), token="t1"), "FAILED", "NonCompliant", "FAILED"),
        "allow": (hook_request(properties(key=A_KEY_ARN), token="t2"), "SUCCESS", None, "PASSED"),
        "warn": (hook_request(properties(key={"Ref": "K"}), token="t3"), "SUCCESS", None, "SKIPPED"),
        "skip": (hook_request(properties(kind="REDSHIFT_METADATA"), token="t4"), "SUCCESS", None, "SKIPPED"),
        "error": ({"clientRequestToken": "t5"}, "FAILED", "InternalFailure", "SKIPPED"),
    }
    for name, (request_, status, error, annotation) in cases.items():
        finding, _ = decide(request_)
        response = respond(request_["clientRequestToken"], finding)
        assert response["hookStatus"] == status, name
        assert response.get("errorCode") == error, name
        assert response["clientRequestToken"] == request_["clientRequestToken"]
        assert response["message"].startswith("cmk-guard: ")
        (note,) = response["annotations"]
        assert note["status"] == annotation and note["severityLevel"] in {"INFORMATIONAL", "MEDIUM", "HIGH"}, name
        assert "IN_PROGRESS" not in json.dumps(response)


def test_long_messages_are_clipped_to_the_documented_limit() -> None:
    long_id = "L" * 5000
    finding, _ = decide(hook_request(properties(), logical_id=long_id))
    response = respond("t", finding)
    assert len(response["message"]) == MESSAGE_LIMIT and response["message"].endswith("…")


# -- never a crash -------------------------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["KnowledgeBaseId", "DataSourceConfiguration", "ServerSideEncryptionConfiguration", "Name", "Type", "KmsKeyArn"]
)


def _check_response(event: Any, bedrock: FakeBedrock) -> None:
    finding = evaluate_request(event, REGION, lambda region: bedrock)  # type: ignore[arg-type,return-value]
    response = respond(event.get("clientRequestToken", "") if isinstance(event, dict) else "", finding)
    assert response["hookStatus"] in {"SUCCESS", "FAILED"}
    assert (response["hookStatus"] == "FAILED") == ("errorCode" in response)
    assert response.get("errorCode") in {None, "NonCompliant", "InternalFailure"}
    assert 0 < len(response["message"]) <= MESSAGE_LIMIT
    json.dumps(response)  # serialisable as Lambda must return it


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=JSON)
def test_any_json_event_gets_an_answer(event: Any) -> None:
    _check_response(event, FakeBedrock())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=FIELDS, value=JSON, nested=st.booleans(), denied=st.booleans())
def test_any_malformed_data_source_gets_an_answer(field: str, value: Any, nested: bool, denied: bool) -> None:
    props = properties()
    if nested:
        props["ServerSideEncryptionConfiguration"] = {field: value}
        props["DataSourceConfiguration"][field] = value
    else:
        props[field] = value
    _check_response(hook_request(props), FakeBedrock(denied=denied))

