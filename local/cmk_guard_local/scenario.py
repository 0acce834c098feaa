"""Build an estate on the emulated account: knowledge-base roles, knowledge bases, data sources and keys.

Everything goes through boto3 as an administrator would, so the emulated CloudTrail records it and the stack's
EventBridge rule sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

EMBEDDING_MODEL = "arn:aws:bedrock:{region}::foundation-model/amazon.titan-embed-text-v2:0"
PARSING_MODEL = "arn:aws:bedrock:{region}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
SECRET = "arn:aws:secretsmanager:{region}:{account}:secret:kb-connector-AbCdEf"


def data_source_configurations(region: str, account: str) -> dict[str, dict[str, Any]]:
    """A realistic configuration for every data source type that takes a transient-data key."""
    secret = SECRET.format(region=region, account=account)
    return {
        "S3": {
            "type": "S3",
            "s3Configuration": {
                "bucketArn": "arn:aws:s3:::acme-kb-documents",
                "inclusionPrefixes": ["policies/"],
                "bucketOwnerAccountId": account,
            },
        },
        "WEB": {
            "type": "WEB",
            "webConfiguration": {
                "sourceConfiguration": {
                    "urlConfiguration": {"seedUrls": [{"url": "https://docs.example.com/"}]}
                },
                "crawlerConfiguration": {
                    "crawlerLimits": {"rateLimit": 50, "maxPages": 1000},
                    "inclusionFilters": [".*/docs/.*"],
                    "exclusionFilters": [".*\\.pdf"],
                    "scope": "HOST_ONLY",
                    "userAgent": "acme-kb-crawler/1.0",
                },
            },
        },
        "CONFLUENCE": {
            "type": "CONFLUENCE",
            "confluenceConfiguration": {
                "sourceConfiguration": {
                    "hostUrl": "https://acme.atlassian.net",
                    "hostType": "SAAS",
                    "authType": "OAUTH2_CLIENT_CREDENTIALS",
                    "credentialsSecretArn": secret,
                },
                "crawlerConfiguration": {
                    "filterConfiguration": {
                        "type": "PATTERN",
                        "patternObjectFilter": {
                            "filters": [{"objectType": "Page", "inclusionFilters": [".*handbook.*"]}]
                        },
                    }
                },
            },
        },
        "SALESFORCE": {
            "type": "SALESFORCE",
            "salesforceConfiguration": {
                "sourceConfiguration": {
                    "hostUrl": "https://acme.my.salesforce.com",
                    "authType": "OAUTH2_CLIENT_CREDENTIALS",
                    "credentialsSecretArn": secret,
                }
            },
        },
        "SHAREPOINT": {
            "type": "SHAREPOINT",
            "sharePointConfiguration": {
                "sourceConfiguration": {
                    "tenantId": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                    "domain": "acme",
                    "siteUrls": ["https://acme.sharepoint.com/sites/legal"],
                    "hostType": "ONLINE",
                    "authType": "OAUTH2_CLIENT_CREDENTIALS",
                    "credentialsSecretArn": secret,
                }
            },
        },
        "CUSTOM": {"type": "CUSTOM"},
    }


def vector_ingestion_configurations(region: str) -> dict[str, dict[str, Any] | None]:
    """Chunking, parsing and custom-transformation settings, alone and together (``None``: Bedrock's defaults)."""
    return {
        "default": None,
        "fixed": {
            "chunkingConfiguration": {
                "chunkingStrategy": "FIXED_SIZE",
                "fixedSizeChunkingConfiguration": {"maxTokens": 512, "overlapPercentage": 20},
            }
        },
        "hierarchical+parsing": {
            "chunkingConfiguration": {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 1500}, {"maxTokens": 300}],
                    "overlapTokens": 60,
                },
            },
            "parsingConfiguration": {
                "parsingStrategy": "BEDROCK_FOUNDATION_MODEL",
                "bedrockFoundationModelConfiguration": {
                    "modelArn": PARSING_MODEL.format(region=region),
                    "parsingPrompt": {"parsingPromptText": "Transcribe tables as Markdown."},
                },
            },
        },
        "semantic+transformation": {
            "chunkingConfiguration": {
                "chunkingStrategy": "SEMANTIC",
                "semanticChunkingConfiguration": {
                    "maxTokens": 300,
                    "bufferSize": 1,
                    "breakpointPercentileThreshold": 95,
                },
            },
            "customTransformationConfiguration": {
                "intermediateStorage": {"s3Location": {"uri": "s3://acme-kb-intermediate/"}},
                "transformations": [
                    {
                        "transformationFunction": {
                            "transformationLambdaConfiguration": {
                                "lambdaArn": f"arn:aws:lambda:{region}:123456789012:function:kb-enrich"
                            }
                        },
                        "stepToApply": "POST_CHUNKING",
                    }
                ],
            },
        },
    }


@dataclass
class Estate:
    """Creates resources on the emulated account as an administrator would."""

    region: str
    account_id: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    def kb_role(self, name: str = "AmazonBedrockExecutionRoleForKnowledgeBase_acme", path: str = "/service-role/") -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "bedrock.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}},
                }
            ],
        }
        return self.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]

    def knowledge_base(
        self, name: str, role_arn: str, tags: dict[str, str] | None = None, kb_type: str = "VECTOR"
    ) -> dict[str, Any]:
        embedding = EMBEDDING_MODEL.format(region=self.region)
        configuration: dict[str, Any] = {"type": kb_type}
        request: dict[str, Any] = {"name": name, "roleArn": role_arn}
        if kb_type == "MANAGED":
            configuration["managedKnowledgeBaseConfiguration"] = {"embeddingModelType": "MANAGED"}
        elif kb_type == "SQL":
            configuration["sqlKnowledgeBaseConfiguration"] = {
                "type": "REDSHIFT",
                "redshiftConfiguration": {
                    "storageConfigurations": [{"type": "REDSHIFT", "redshiftConfiguration": {"databaseName": "sales"}}],
                    "queryEngineConfiguration": {
                        "type": "SERVERLESS",
                        "serverlessConfiguration": {
                            "workgroupArn": f"arn:aws:redshift-serverless:{self.region}:{self.account_id}:workgroup/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                            "authConfiguration": {"type": "IAM"},
                        },
                    },
                },
            }
        else:
            configuration["vectorKnowledgeBaseConfiguration"] = {"embeddingModelArn": embedding}
            request["storageConfiguration"] = {
                "type": "OPENSEARCH_SERVERLESS",
                "opensearchServerlessConfiguration": {
                    "collectionArn": f"arn:aws:aoss:{self.region}:{self.account_id}:collection/kbcollection01",
                    "vectorIndexName": f"{name}-index",
                    "fieldMapping": {"vectorField": "vector", "textField": "text", "metadataField": "metadata"},
                },
            }
        request["knowledgeBaseConfiguration"] = configuration
        if tags:
            request["tags"] = tags
        return self.client("bedrock-agent").create_knowledge_base(**request)["knowledgeBase"]

    def data_source(
        self,
        knowledge_base_id: str,
        name: str,
        configuration: dict[str, Any] | None = None,
        *,
        kms_key_arn: str | None = None,
        vector_ingestion: dict[str, Any] | None = None,
        description: str | None = None,
        data_deletion_policy: str | None = None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "knowledgeBaseId": knowledge_base_id,
            "name": name,
            "dataSourceConfiguration": configuration or data_source_configurations(self.region, self.account_id)["S3"],
        }
        if kms_key_arn:
            request["serverSideEncryptionConfiguration"] = {"kmsKeyArn": kms_key_arn}
        if vector_ingestion:
            request["vectorIngestionConfiguration"] = vector_ingestion
        if description:
            request["description"] = description
        if data_deletion_policy:
            request["dataDeletionPolicy"] = data_deletion_policy
        return self.client("bedrock-agent").create_data_source(**request)["dataSource"]

    def customer_key(self, user_role_arns: list[str] | None = None, description: str = "team key") -> str:
        """A customer-managed key whose policy lets the given roles use it (root administers)."""
        statements: list[dict[str, Any]] = [
            {
                "Sid": "Admin",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{self.account_id}:root"},
                "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"],
                "Resource": "*",
            }
        ]
        if user_role_arns:
            statements.append(
                {
                    "Sid": "Use",
                    "Effect": "Allow",
                    "Principal": {"AWS": user_role_arns},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                }
            )
        policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return self.client("kms").create_key(Policy=policy, Description=description)["KeyMetadata"]["Arn"]

    def aws_managed_key(self) -> str:
        """A key that DescribeKey reports as ``KeyManager: AWS`` (moto creates only customer keys)."""
        from moto.kms.models import kms_backends

        arn = self.client("kms").create_key(Description="Default key that protects my Bedrock data")["KeyMetadata"]["Arn"]
        key = kms_backends[self.account_id][self.region].keys[arn.rsplit("/", 1)[-1]]
        key.key_manager = "AWS"
        return arn
