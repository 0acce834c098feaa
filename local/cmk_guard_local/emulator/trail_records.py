"""CloudTrail management-event records, shaped like the ones AWS writes."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from botocore.model import OperationModel

from .identity import Principal, user_identity
from .shapes import redact

EVENT_VERSION = "1.09"
CLIENT_IP = "198.51.100.24"  # TEST-NET-2: calls made from the emulated caller's machine

_READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "BatchGet", "Query", "Scan", "Test",
                  "Select", "Filter", "Validate")
_KMS_READ = {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
             "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "GenerateMac", "VerifyMac", "ReEncrypt", "Sign",
             "Verify", "DeriveSharedSecret"}

# Data events never reach CloudTrail event history (LookupEvents covers management events only).
_DATA_EVENTS: dict[str, set[str] | None] = {
    "dynamodb": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
                 "TransactGetItems", "TransactWriteItems", "ExecuteStatement", "BatchExecuteStatement",
                 "ExecuteTransaction"},
    "s3": {"GetObject", "PutObject", "DeleteObject", "DeleteObjects", "HeadObject", "CopyObject", "ListObjects",
           "ListObjectsV2", "GetObjectTagging", "PutObjectTagging", "CreateMultipartUpload", "UploadPart",
           "CompleteMultipartUpload", "AbortMultipartUpload", "GetObjectAcl", "PutObjectAcl"},
    "lambda": {"Invoke", "InvokeAsync", "InvokeWithResponseStream"},
    "sqs": {"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
            "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"},
    "sns": {"Publish", "PublishBatch"},
    "bedrock-agent-runtime": None,
    "bedrock-runtime": None,
}


def is_data_event(service: str, operation: str) -> bool:
    """Whether the call is a CloudTrail data event (absent from event history)."""
    if service not in _DATA_EVENTS:
        return False
    ops = _DATA_EVENTS[service]
    return ops is None or operation in ops


def is_read_only(service: str, operation: str) -> bool:
    if service == "kms" and operation in _KMS_READ:
        return True
    return operation.startswith(_READ_PREFIXES)


def event_source(signing_name: str) -> str:
    return f"{signing_name}.amazonaws.com"


def iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_record(*, principal: Principal, source: str, name: str, region: str, account: str, read_only: bool,
                when: datetime, request_parameters: Any, response_elements: Any, request_id: str,
                source_ip: str = CLIENT_IP, user_agent: str = "", invoked_by: str | None = None,
                error_code: str | None = None, error_message: str | None = None,
                resources: list[dict] | None = None) -> dict:
    """A complete ``AwsApiCall`` management-event record."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(principal, invoked_by),
        "eventTime": iso_z(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    record.update({
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
    })
    if resources:
        record["resources"] = resources
    record.update({"eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account,
                   "eventCategory": "Management"})
    return record


def api_call_record(*, principal: Principal, operation: OperationModel, service: str, region: str, account: str,
                    params: dict, parsed: dict | None, error_code: str | None, error_message: str | None,
                    request_id: str, user_agent: str, when: datetime) -> dict:
    """The record of one API call made through botocore."""
    name = operation.name
    read_only = is_read_only(service, name)
    request_parameters = redact(operation.input_shape, params) if operation.input_shape is not None else None
    response_elements = None
    if parsed is not None and error_code is None and not read_only and operation.output_shape is not None:
        response_elements = redact(operation.output_shape, parsed) or None
    return base_record(
        principal=principal, source=event_source(operation.service_model.signing_name), name=name, region=region,
        account=account, read_only=read_only, when=when, request_parameters=request_parameters or None,
        response_elements=response_elements, request_id=request_id, user_agent=user_agent,
        error_code=error_code, error_message=error_message,
        resources=resources_for(service, region, account, params, parsed),
    )


def resources_for(service: str, region: str, account: str, params: dict, parsed: dict | None) -> list[dict]:
    """The ``resources`` block where the emulator knows it (Bedrock knowledge bases, KMS keys)."""
    parsed = parsed or {}
    if service == "bedrock-agent":
        kb_id = params.get("knowledgeBaseId") or (parsed.get("knowledgeBase") or {}).get("knowledgeBaseId")
        if kb_id:
            arn = f"arn:aws:bedrock:{region}:{account}:knowledge-base/{kb_id}"
            return [{"accountId": account, "type": "AWS::Bedrock::KnowledgeBase", "ARN": arn}]
    if service == "kms":
        arn = (parsed.get("KeyMetadata") or {}).get("Arn") or parsed.get("KeyId") or params.get("KeyId") or ""
        if isinstance(arn, str) and ":key/" in arn:
            return [{"accountId": arn.split(":")[4], "type": "AWS::KMS::Key", "ARN": arn}]
        if isinstance(arn, str) and len(arn) == 36 and arn.count("-") == 4:
            return [{"accountId": account, "type": "AWS::KMS::Key",
                     "ARN": f"arn:aws:kms:{region}:{account}:key/{arn}"}]
    return []
