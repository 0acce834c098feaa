"""Read ``template.yaml`` without AWS: a CloudFormation-aware YAML loader, an intrinsic resolver and small views.

Used by the offline harness (``stack.py``) and the template tests. No boto3 here.

- ``load_template`` turns the short tags (``!Ref``, ``!GetAtt``, ``!Sub``...) into their long JSON forms.
- ``resolve`` evaluates ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If`` (also ``Fn::Select`` and
  ``Fn::Split``) against a flat mapping: parameter and logical-id names, ``"Logical.Attr"`` for attributes, and
  the pseudo parameters (``AWS::Partition``, ``AWS::AccountId``, ``AWS::Region``, ``AWS::StackName``...).
- ``parameters``, ``conditions``, ``functions``, ``state_machine`` and ``event_rules`` read what the harness needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "NO_VALUE",
    "conditions",
    "event_rules",
    "functions",
    "load_template",
    "parameters",
    "resolve",
    "state_machine",
]

# Short tag -> long intrinsic name. ``!GetAtt`` and ``!Ref``/``!Condition`` get their own handling below.
_FN_TAGS = {
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "ImportValue": "Fn::ImportValue",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "Cidr": "Fn::Cidr",
    "Transform": "Fn::Transform",
    "Length": "Fn::Length",
    "ToJsonString": "Fn::ToJsonString",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation short tags. Timestamps stay strings, as CloudFormation reads them."""


# "2012-10-17" must stay a string (PyYAML's YAML 1.1 resolver would make it a date).
_CloudFormationLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _fn(name: str) -> Any:
    def constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {name: _construct(loader, node)}

    return constructor


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct(loader, node)
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        if not attribute:
            message = f"!GetAtt {value!r} needs Logical.Attribute"
            raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


_CloudFormationLoader.add_constructor("!Ref", _fn("Ref"))
_CloudFormationLoader.add_constructor("!Condition", _fn("Condition"))
_CloudFormationLoader.add_constructor("!GetAtt", _get_att)
for _short, _long in _FN_TAGS.items():
    _CloudFormationLoader.add_constructor(f"!{_short}", _fn(_long))


def load_template(path: str | Path = "template.yaml") -> dict[str, Any]:
    """The template as plain data, with every short tag in its long JSON form."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template (top level is {type(document).__name__})")
    return document


# ---------------------------------------------------------------------------------------------------------------------
# Resolving intrinsics
# ---------------------------------------------------------------------------------------------------------------------
class _NoValue:
    """``Ref AWS::NoValue``: the property or list item disappears."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _lookup(refs: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return refs[name]
    except KeyError:
        known = ", ".join(sorted(refs)) or "nothing"
        raise KeyError(f"cannot resolve {what}: {name!r} is not in refs (known: {known})") from None


def _sub(template: str, variables: Mapping[str, Any], refs: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        return str(_lookup(refs, name, f"${{{name}}} in Fn::Sub"))

    return _SUB_VARIABLE.sub(replace, template)


def resolve(value: Any, refs: Mapping[str, Any], conditions: Mapping[str, bool] | None = None) -> Any:
    """Resolve the intrinsics in ``value`` (recursively) against ``refs``.

    ``refs`` maps parameter names, logical ids and pseudo parameters (``AWS::AccountId``...) to values, and
    ``"Logical.Attribute"`` to ``Fn::GetAtt`` results. ``conditions`` gives ``Fn::If`` its condition values; a
    condition it does not name is false. An unknown name raises ``KeyError`` naming it.
    """
    conditions = conditions or {}
    if isinstance(value, list):
        items = [resolve(item, refs, conditions) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, argument), = value.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            return _lookup(refs, argument, "Ref")
        if key == "Fn::GetAtt":
            name = argument if isinstance(argument, str) else ".".join(str(part) for part in argument)
            return _lookup(refs, name, "Fn::GetAtt")
        if key == "Fn::Sub":
            if isinstance(argument, str):
                return _sub(argument, {}, refs)
            text, variables = argument
            return _sub(text, {k: resolve(v, refs, conditions) for k, v in variables.items()}, refs)
        if key == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(str(item) for item in resolve(items, refs, conditions))
        if key == "Fn::If":
            name, when_true, when_false = argument
            return resolve(when_true if conditions.get(name, False) else when_false, refs, conditions)
        if key == "Fn::Select":
            index, items = argument
            return resolve(items, refs, conditions)[int(resolve(index, refs, conditions))]
        if key == "Fn::Split":
            delimiter, text = argument
            return str(resolve(text, refs, conditions)).split(delimiter)
        if key.startswith("Fn::"):
            raise ValueError(f"resolve() does not evaluate {key}")
    resolved = {k: resolve(v, refs, conditions) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


# ---------------------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------------------
def _as_parameter_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """Each parameter's default, as the string CloudFormation passes (parameters without a default are left out)."""
    return {
        name: _as_parameter_string(spec["Default"])
        for name, spec in (template.get("Parameters") or {}).items()
        if "Default" in spec
    }


def conditions(template: Mapping[str, Any], refs: Mapping[str, Any]) -> dict[str, bool]:
    """Evaluate the template's ``Conditions`` (``Fn::Equals``/``Not``/``And``/``Or``/``Condition``) against ``refs``."""
    definitions = template.get("Conditions") or {}
    results: dict[str, bool] = {}

    def evaluate(node: Any, trail: tuple[str, ...]) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, argument), = node.items()
            if key == "Condition":
                return condition(argument, trail)
            if key == "Fn::Equals":
                left, right = (evaluate(part, trail) for part in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not evaluate(argument[0], trail)
            if key == "Fn::And":
                return all(evaluate(part, trail) for part in argument)
            if key == "Fn::Or":
                return any(evaluate(part, trail) for part in argument)
        return resolve(node, refs)

    def condition(name: str, trail: tuple[str, ...] = ()) -> bool:
        if name in trail:
            raise ValueError(f"condition cycle: {' -> '.join((*trail, name))}")
        if name not in results:
            if name not in definitions:
                raise KeyError(f"unknown condition {name!r}")
            results[name] = bool(evaluate(definitions[name], (*trail, name)))
        return results[name]

    for name in definitions:
        condition(name)
    return results


def _resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in (template.get("Resources") or {}).items() if v.get("Type") == kind}


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``AWS::Serverless::Function``: ``{"handler", "role", "environment", "reserved_concurrency", "log_group",
    "timeout"}``.

    ``role``, ``log_group`` (``LoggingConfig.LogGroup``) and the environment values are left unresolved (pass them to
    ``resolve``); the environment is ``Globals.Function`` merged with the function's own variables (the function's win).
    """
    global_function = ((template.get("Globals") or {}).get("Function")) or {}
    global_environment = ((global_function.get("Environment") or {}).get("Variables")) or {}
    views: dict[str, dict[str, Any]] = {}
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        properties = resource.get("Properties") or {}
        own_environment = ((properties.get("Environment") or {}).get("Variables")) or {}
        views[logical_id] = {
            "handler": properties.get("Handler", global_function.get("Handler")),
            "role": properties.get("Role", global_function.get("Role")),
            "environment": {**global_environment, **own_environment},
            "reserved_concurrency": properties.get(
                "ReservedConcurrentExecutions", global_function.get("ReservedConcurrentExecutions")
            ),
            "log_group": (properties.get("LoggingConfig") or {}).get("LogGroup"),
            "timeout": properties.get("Timeout", global_function.get("Timeout", 3)),
        }
    return views


def _target_id(arn: Any) -> str | None:
    """The logical id behind a target ARN written as ``!GetAtt X.Arn`` or ``!Ref X``."""
    if isinstance(arn, dict) and set(arn) == {"Fn::GetAtt"}:
        value = arn["Fn::GetAtt"]
        return value.split(".")[0] if isinstance(value, str) else str(value[0])
    if isinstance(arn, dict) and set(arn) == {"Ref"}:
        return str(arn["Ref"])
    return None


def event_rules(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every EventBridge rule and where it delivers: ``{"id", "pattern", "state", "target"}`` (pattern unresolved).

    Covers the SAM ``EventBridgeRule`` events of functions and state machines (``id`` is the owner's logical id plus
    the event name, as SAM names the rule) and ``AWS::Events::Rule`` resources, one entry per target whose ARN names a
    resource of the template. ``target`` is that resource's logical id; ``state`` defaults to ``ENABLED``.
    """
    rules: list[dict[str, Any]] = []
    resources = template.get("Resources") or {}
    for owner, resource in resources.items():
        if resource.get("Type") not in {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}:
            continue
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") in {"EventBridgeRule", "CloudWatchEvent"}:
                properties = event.get("Properties") or {}
                rules.append({"id": f"{owner}{name}", "pattern": properties.get("Pattern"),
                              "state": properties.get("State", "ENABLED"), "target": owner})
    for logical_id, resource in _resources(template, "AWS::Events::Rule").items():
        properties = resource.get("Properties") or {}
        for target in properties.get("Targets") or []:
            target_id = _target_id(target.get("Arn"))
            if target_id in resources:
                rules.append({"id": logical_id, "pattern": properties.get("EventPattern"),
                              "state": properties.get("State", "ENABLED"), "target": target_id})
    return rules


def state_machine(template: Mapping[str, Any], logical_id: str | None = None) -> dict[str, Any]:
    """The state machine's ``{"definition_uri", "substitutions", "event_pattern"}`` (pattern unresolved).

    ``logical_id`` may be left out when the template has exactly one ``AWS::Serverless::StateMachine``.
    ``event_pattern`` is the ``Pattern`` of its ``EventBridgeRule`` event (``None`` if it has none).
    """
    machines = _resources(template, "AWS::Serverless::StateMachine")
    if logical_id is None:
        if len(machines) != 1:
            raise ValueError(f"expected one AWS::Serverless::StateMachine, found {sorted(machines)}; name one")
        logical_id = next(iter(machines))
    if logical_id not in machines:
        raise KeyError(f"no AWS::Serverless::StateMachine named {logical_id!r} (found {sorted(machines)})")
    properties = machines[logical_id].get("Properties") or {}
    rules = [
        event.get("Properties") or {}
        for event in (properties.get("Events") or {}).values()
        if event.get("Type") in {"EventBridgeRule", "CloudWatchEvent"}
    ]
    if len(rules) > 1:
        raise ValueError(f"{logical_id} has {len(rules)} EventBridge rules; expected at most one")
    return {
        "definition_uri": properties.get("DefinitionUri"),
        "substitutions": dict(properties.get("DefinitionSubstitutions") or {}),
        "event_pattern": rules[0].get("Pattern") if rules else None,
    }
