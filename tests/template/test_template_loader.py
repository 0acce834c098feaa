"""cmk_guard_local.template: the short-tag loader, the resolver and the views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmk_guard_local.template import (
    NO_VALUE,
    conditions,
    event_rules,
    functions,
    load_template,
    parameters,
    resolve,
    state_machine,
)

SHORT_TAGS = """\
Version: 2012-10-17
Values:
  ref: !Ref Bucket
  att_dot: !GetAtt Role.Arn
  att_nested: !GetAtt Api.Outputs.Url
  att_list: !GetAtt [Role, Arn]
  sub: !Sub "arn:${AWS::Partition}:s3:::${Bucket}"
  sub_list: !Sub ["${A}-${B}", {A: !Ref Bucket}]
  if: !If [Cond, yes-value, !Ref AWS::NoValue]
  equals: !Equals [!Ref Mode, auto]
  not: !Not [!Equals [a, b]]
  and: !And [!Condition X, !Condition Y]
  or: !Or [!Condition X, !Condition Y]
  join: !Join [",", [a, !Ref Bucket]]
  select: !Select [1, !Split [",", "a,b,c"]]
  map: !FindInMap [Map, Key, Value]
  import: !ImportValue shared-export
  base64: !Base64 text
  azs: !GetAZs ""
  cidr: !Cidr ["10.0.0.0/16", 4, 8]
  quoted: "true"
  unquoted: true
"""


@pytest.fixture
def short_tags(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "t.yaml"
    path.write_text(SHORT_TAGS)
    return load_template(path)


def test_short_tags_become_long_forms(short_tags: dict[str, Any]) -> None:
    v = short_tags["Values"]
    assert v["ref"] == {"Ref": "Bucket"}
    assert v["att_dot"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert v["att_nested"] == {"Fn::GetAtt": ["Api", "Outputs.Url"]}
    assert v["att_list"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert v["sub"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}
    assert v["sub_list"] == {"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "Bucket"}}]}
    assert v["if"] == {"Fn::If": ["Cond", "yes-value", {"Ref": "AWS::NoValue"}]}
    assert v["equals"] == {"Fn::Equals": [{"Ref": "Mode"}, "auto"]}
    assert v["not"] == {"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}
    assert v["and"] == {"Fn::And": [{"Condition": "X"}, {"Condition": "Y"}]}
    assert v["or"] == {"Fn::Or": [{"Condition": "X"}, {"Condition": "Y"}]}
    assert v["join"] == {"Fn::Join": [",", ["a", {"Ref": "Bucket"}]]}
    assert v["select"] == {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}
    assert v["map"] == {"Fn::FindInMap": ["Map", "Key", "Value"]}
    assert v["import"] == {"Fn::ImportValue": "shared-export"}
    assert v["base64"] == {"Fn::Base64": "text"}
    assert v["azs"] == {"Fn::GetAZs": ""}
    assert v["cidr"] == {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}
    assert (v["quoted"], v["unquoted"]) == ("true", True)


def test_dates_stay_strings(short_tags: dict[str, Any]) -> None:
    assert short_tags["Version"] == "2012-10-17"


def test_getatt_without_attribute_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("x: !GetAtt JustALogicalId\n")
    with pytest.raises(Exception, match="Logical.Attribute"):
        load_template(path)


REFS = {
    "Bucket": "my-bucket",
    "Role.Arn": "arn:aws:iam::123456789012:role/r",
    "AWS::Partition": "aws-cn",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "cn-north-1",
    "AWS::StackName": "stack",
}


def test_resolve_refs_attributes_and_pseudo_parameters() -> None:
    assert resolve({"Ref": "Bucket"}, REFS) == "my-bucket"
    assert resolve({"Fn::GetAtt": ["Role", "Arn"]}, REFS) == "arn:aws:iam::123456789012:role/r"
    assert resolve({"Fn::GetAtt": "Role.Arn"}, REFS) == "arn:aws:iam::123456789012:role/r"
    text = "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}/${Role.Arn}/${!Literal}"
    assert resolve({"Fn::Sub": text}, REFS) == (
        "arn:aws-cn:x:cn-north-1:123456789012:stack/arn:aws:iam::123456789012:role/r/${Literal}"
    )
    assert resolve({"Fn::Sub": ["${A}.${Bucket}", {"A": {"Ref": "AWS::Region"}}]}, REFS) == "cn-north-1.my-bucket"
    assert resolve({"Fn::Join": ["/", ["a", {"Ref": "Bucket"}]]}, REFS) == "a/my-bucket"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}, REFS) == "b"


def test_resolve_if_uses_conditions_default_false_and_drops_no_value() -> None:
    node = {"Statement": [{"Fn::If": ["C", {"Sid": "yes"}, {"Ref": "AWS::NoValue"}]}, {"Sid": "always"}]}
    assert resolve(node, REFS) == {"Statement": [{"Sid": "always"}]}
    assert resolve(node, REFS, {"C": True}) == {"Statement": [{"Sid": "yes"}, {"Sid": "always"}]}
    assert resolve({"a": {"Ref": "AWS::NoValue"}, "b": 1}, REFS) == {"b": 1}
    assert resolve({"Ref": "AWS::NoValue"}, REFS) is NO_VALUE


def test_resolve_recurses_and_leaves_plain_data_alone() -> None:
    node = {"list": [{"Ref": "Bucket"}, 3, None], "nested": {"deep": {"Fn::Sub": "${Bucket}"}}, "Condition": "X"}
    assert resolve(node, REFS) == {"list": ["my-bucket", 3, None], "nested": {"deep": "my-bucket"}, "Condition": "X"}


@pytest.mark.parametrize(
    "node",
    [
        {"Ref": "Missing"},
        {"Fn::GetAtt": ["Missing", "Arn"]},
        {"Fn::Sub": "x-${Missing}"},
        {"Fn::Sub": "${Missing.Arn}"},
    ],
)
def test_unknown_names_raise_key_error_naming_them(node: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="Missing"):
        resolve(node, REFS)


def test_unsupported_intrinsics_are_refused() -> None:
    with pytest.raises(ValueError, match="Fn::FindInMap"):
        resolve({"Fn::FindInMap": ["M", "K", "V"]}, REFS)


MINI = {
    "Parameters": {
        "N": {"Type": "Number", "Default": 5},
        "S": {"Type": "String", "Default": ""},
        "R": {"Type": "String"},
    },
    "Conditions": {
        "IsEmpty": {"Fn::Equals": [{"Ref": "S"}, ""]},
        "NotEmpty": {"Fn::Not": [{"Condition": "IsEmpty"}]},
        "Both": {"Fn::And": [{"Condition": "IsEmpty"}, {"Fn::Equals": [{"Ref": "N"}, "5"]}]},
    },
    "Globals": {"Function": {"Environment": {"Variables": {"A": "global", "B": "global"}}, "Handler": "g.h"}},
    "Resources": {
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
                "Environment": {"Variables": {"B": "own"}},
                "ReservedConcurrentExecutions": 2,
                "LoggingConfig": {"LogGroup": {"Ref": "FnLogs"}},
            },
        },
        "Other": {"Type": "AWS::SNS::Topic"},
        "KmsRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
                "EventPattern": {"source": ["aws.kms"]},
                "Targets": [
                    {"Id": "fn", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}},
                    {"Id": "outside", "Arn": "arn:aws:sqs:us-east-1:123456789012:elsewhere"},
                ],
            },
        },
        "Machine": {
            "Type": "AWS::Serverless::StateMachine",
            "Properties": {
                "DefinitionUri": "sm.asl.json",
                "DefinitionSubstitutions": {"X": {"Ref": "Other"}},
                "Events": {"Rule": {"Type": "EventBridgeRule", "Properties": {"Pattern": {"source": ["s"]}}}},
            },
        },
    },
}


def test_views_on_a_small_template() -> None:
    assert parameters(MINI) == {"N": "5", "S": ""}
    assert functions(MINI) == {
        "Fn": {
            "handler": "g.h",
            "role": {"Fn::GetAtt": ["FnRole", "Arn"]},
            "environment": {"A": "global", "B": "own"},
            "reserved_concurrency": 2,
            "log_group": {"Ref": "FnLogs"},
            "timeout": 3,
        }
    }
    assert event_rules(MINI) == [
        {"id": "MachineRule", "pattern": {"source": ["s"]}, "state": "ENABLED", "target": "Machine"},
        {"id": "KmsRule", "pattern": {"source": ["aws.kms"]},
         "state": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "target": "Fn"},
    ]
    assert state_machine(MINI) == {
        "definition_uri": "sm.asl.json",
        "substitutions": {"X": {"Ref": "Other"}},
        "event_pattern": {"source": ["s"]},
    }
    assert conditions(MINI, {"S": "", "N": "5"}) == {"IsEmpty": True, "NotEmpty": False, "Both": True}
    assert conditions(MINI, {"S": "x", "N": "5"}) == {"IsEmpty": False, "NotEmpty": True, "Both": False}
    with pytest.raises(KeyError, match="Nope"):
        state_machine(MINI, "Nope")
