"""CloudFormation Lambda hook requests in the documented shape (Hooks User Guide, "Lambda Hook resource input syntax").

Property names are those of the AWS::Bedrock::DataSource registry schema. Nothing here knows cmk-guard's code.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/kb-app/1a2345b6-0000-00a0-a123-00abc0abc000"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
KB_ID = "KBID012345"


def properties(
    knowledge_base: Any = KB_ID, key: Any = None, kind: Any = "S3", *, encryption: Any = None
) -> dict[str, Any]:
    """An AWS::Bedrock::DataSource's properties; ``key`` goes into ServerSideEncryptionConfiguration.KmsKeyArn."""
    configuration: dict[str, Any] = {"Type": kind}
    if kind == "S3":
        configuration["S3Configuration"] = {"BucketArn": "arn:aws:s3:::acme-kb-documents"}
    props: dict[str, Any] = {
        "KnowledgeBaseId": knowledge_base,
        "Name": "policies",
        "DataSourceConfiguration": configuration,
    }
    if encryption is not None:
        props["ServerSideEncryptionConfiguration"] = encryption
    elif key is not None:
        props["ServerSideEncryptionConfiguration"] = {"KmsKeyArn": key}
    return props


def hook_request(
    resource_properties: dict[str, Any] | None,
    *,
    previous: dict[str, Any] | None = None,
    point: str = "CREATE_PRE_PROVISION",
    target: str = "AWS::Bedrock::DataSource",
    logical_id: str = "PoliciesDataSource",
    stack_id: str | None = STACK_ID,
    token: str | None = None,
) -> dict[str, Any]:
    return {
        "clientRequestToken": token or str(uuid.uuid4()),
        "awsAccountId": ACCOUNT,
        "stackId": stack_id,
        "changeSetId": None,
        "hookTypeName": "CmkGuard::Bedrock::DataSourceKey",
        "hookTypeVersion": "00000001",
        "hookModel": {"LambdaFunction": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cmk-guard-hook"},
        "actionInvocationPoint": point,
        "requestData": {
            "targetName": target,
            "targetType": target,
            "targetLogicalId": logical_id,
            "targetModel": {
                "resourceProperties": copy.deepcopy(resource_properties),
                "previousResourceProperties": copy.deepcopy(previous),
            },
        },
        "requestContext": {"invocation": 1, "callbackContext": None},
    }
