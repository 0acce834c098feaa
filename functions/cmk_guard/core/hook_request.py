"""Read a CloudFormation Lambda hook request for an ``AWS::Bedrock::DataSource`` into plain facts. Pure.

The request shape for RESOURCE target operations is the one in the CloudFormation Hooks User Guide, "Create Lambda
functions to evaluate resources for Lambda Hooks", section "Lambda Hook resource input syntax"
(https://docs.aws.amazon.com/cloudformation-cli/latest/hooks-userguide/lambda-hooks-create-lambda-function.html):
``clientRequestToken``, ``awsAccountId``, ``stackId``, ``changeSetId``, ``hookTypeName``, ``hookModel``,
``actionInvocationPoint`` (``CREATE_PRE_PROVISION`` | ``UPDATE_PRE_PROVISION`` | ``DELETE_PRE_PROVISION``) and
``requestData`` with ``targetName`` (the resource type), ``targetType``, ``targetLogicalId`` and
``targetModel.resourceProperties`` / ``previousResourceProperties``. Property names are those of the
``AWS::Bedrock::DataSource`` registry schema (PascalCase: ``KnowledgeBaseId``, ``DataSourceConfiguration.Type``,
``ServerSideEncryptionConfiguration.KmsKeyArn``).

Two kinds of bad input, answered differently: a request that is not a hook request cmk-guard can read
(``HookRequestError``, the hook's own failure) and a data source whose properties are malformed
(``InvalidResourceError``, the resource itself is wrong).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DATA_SOURCE_TYPE = "AWS::Bedrock::DataSource"
DELETE_INVOCATION = "DELETE_PRE_PROVISION"
KNOWLEDGE_BASE_ID = re.compile(r"^[0-9a-zA-Z]{10}$")  # the registry schema's KnowledgeBaseId pattern


class HookRequestError(ValueError):
    """The event is not a CloudFormation hook request cmk-guard can read."""


class InvalidResourceError(ValueError):
    """The data source's properties are malformed (missing or of the wrong type)."""


@dataclass(frozen=True)
class Unresolved:
    """A property value still written as an intrinsic function when the hook runs."""

    function: str
    text: str
    referent: str | None = None  # the logical id a Ref or Fn::GetAtt points at


@dataclass(frozen=True)
class HookRequest:
    client_request_token: str
    invocation_point: str
    target_name: str
    logical_id: str
    stack_id: str | None
    properties: dict[str, Any] | None
    previous_properties: dict[str, Any] | None


@dataclass(frozen=True)
class DataSourceTemplate:
    """What the hook needs of an ``AWS::Bedrock::DataSource``'s proposed properties."""

    logical_id: str
    knowledge_base: str | Unresolved
    type: str | None  # None when the type itself is left unresolved
    key: str | Unresolved | None  # None: no KmsKeyArn at all
    previous_key: str | None = None

    @property
    def knowledge_base_label(self) -> str:
        if isinstance(self.knowledge_base, Unresolved):
            name = self.knowledge_base.referent or "(unresolved)"
            return f"{name} ({self.knowledge_base.text})"
        return self.knowledge_base


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unresolved(value: Any) -> Unresolved | None:
    """The intrinsic function ``value`` is written as (``{"Ref": ...}``, ``{"Fn::GetAtt": ...}``...), if any."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((function, argument),) = value.items()
    if not (function == "Ref" or (isinstance(function, str) and function.startswith("Fn::"))):
        return None
    referent = None
    if function == "Ref" and isinstance(argument, str):
        referent, text = argument, f"Ref {argument}"
    elif function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
        referent, text = str(argument[0]), f"Fn::GetAtt {argument[0]}.{argument[1]}"
    elif function == "Fn::GetAtt" and isinstance(argument, str):
        referent, text = argument.split(".")[0], f"Fn::GetAtt {argument}"
    else:
        text = f"{function} {_short(argument)}"
    return Unresolved(function=function, text=text, referent=referent)


def token_of(event: Any) -> str:
    """The request token to echo back, or "" when the event carries none (the response then says why)."""
    token = event.get("clientRequestToken") if isinstance(event, dict) else None
    return token if isinstance(token, str) else ""


def _object(value: Any, what: str, error: type[ValueError]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error(f"{what} must be an object, not {type(value).__name__}")
    return value


def parse_request(event: Any) -> HookRequest:
    """The hook request, or ``HookRequestError`` naming the first field that is missing or of the wrong type."""
    if not isinstance(event, dict):
        raise HookRequestError(f"the request must be a JSON object, not {type(event).__name__}")
    token = event.get("clientRequestToken")
    if not isinstance(token, str) or not token:
        raise HookRequestError("clientRequestToken is missing or not a string")
    point = event.get("actionInvocationPoint")
    if not isinstance(point, str) or not point:
        raise HookRequestError("actionInvocationPoint is missing or not a string")
    data = _object(event.get("requestData"), "requestData", HookRequestError)
    if data is None:
        raise HookRequestError("requestData is missing")
    target_name = data.get("targetName")
    if not isinstance(target_name, str) or not target_name:
        raise HookRequestError("requestData.targetName is missing or not a string")
    logical_id = data.get("targetLogicalId")
    if logical_id is not None and not isinstance(logical_id, str):
        raise HookRequestError("requestData.targetLogicalId is not a string")
    model = _object(data.get("targetModel"), "requestData.targetModel", HookRequestError) or {}
    stack_id = event.get("stackId")
    return HookRequest(
        client_request_token=token,
        invocation_point=point,
        target_name=target_name,
        logical_id=logical_id or "(no logical id)",
        stack_id=stack_id if isinstance(stack_id, str) and stack_id else None,
        properties=_object(model.get("resourceProperties"), "resourceProperties", HookRequestError),
        previous_properties=_object(
            model.get("previousResourceProperties"), "previousResourceProperties", HookRequestError
        ),
    )


def stack_region(stack_id: str | None) -> str | None:
    """The region of a stack ARN (``arn:aws:cloudformation:<region>:<account>:stack/...``)."""
    parts = (stack_id or "").split(":")
    return parts[3] if len(parts) >= 6 and parts[2] == "cloudformation" and parts[3] else None


def _knowledge_base(properties: dict[str, Any]) -> str | Unresolved:
    if "KnowledgeBaseId" not in properties:
        raise InvalidResourceError("KnowledgeBaseId is missing (it is required)")
    value = properties["KnowledgeBaseId"]
    reference = unresolved(value)
    if reference is not None:
        return reference
    if not isinstance(value, str) or not KNOWLEDGE_BASE_ID.fullmatch(value):
        raise InvalidResourceError(f"KnowledgeBaseId must be a 10-character knowledge base id, not {_short(value)}")
    return value


def _type(properties: dict[str, Any]) -> str | None:
    configuration = properties.get("DataSourceConfiguration")
    if configuration is None:
        raise InvalidResourceError("DataSourceConfiguration is missing (it is required)")
    if unresolved(configuration) is not None:
        return None
    configuration = _object(configuration, "DataSourceConfiguration", InvalidResourceError) or {}
    kind = configuration.get("Type")
    if unresolved(kind) is not None:
        return None
    if not isinstance(kind, str) or not kind:
        raise InvalidResourceError("DataSourceConfiguration.Type is missing or not a string")
    return kind


def _key(properties: dict[str, Any] | None) -> str | Unresolved | None:
    """The proposed KmsKeyArn: a string, an unresolved intrinsic, or None when there is none."""
    encryption = (properties or {}).get("ServerSideEncryptionConfiguration")
    if encryption is None:
        return None
    reference = unresolved(encryption)
    if reference is not None:
        return reference
    encryption = _object(encryption, "ServerSideEncryptionConfiguration", InvalidResourceError) or {}
    value = encryption.get("KmsKeyArn")
    if value is None:
        return None
    reference = unresolved(value)
    if reference is not None:
        return reference
    if not isinstance(value, str):
        raise InvalidResourceError(
            f"ServerSideEncryptionConfiguration.KmsKeyArn must be a string, not {type(value).__name__}"
        )
    return value.strip() or None


def _previous_key(properties: dict[str, Any] | None) -> str | None:
    try:
        key = _key(properties)
    except InvalidResourceError:
        return None
    return key if isinstance(key, str) else None


def read_data_source(request: HookRequest) -> DataSourceTemplate:
    """The proposed data source, or ``InvalidResourceError`` naming what is wrong with its properties."""
    if request.properties is None:
        raise InvalidResourceError("the request carries no resourceProperties for the data source")
    return DataSourceTemplate(
        logical_id=request.logical_id,
        knowledge_base=_knowledge_base(request.properties),
        type=_type(request.properties),
        key=_key(request.properties),
        previous_key=_previous_key(request.previous_properties),
    )
