"""Hypothesis strategies: data source configurations of every type that takes a key, within the API's constraints."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ACCOUNT, REGION = "123456789012", "us-east-1"
SECRET = st.from_regex(r"[a-zA-Z0-9!/_+=.@-]{1,40}", fullmatch=True).map(
    lambda name: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}"
)
HOST = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}\.(com|net|example)", fullmatch=True)
HTTPS_URL = st.tuples(HOST, st.from_regex(r"(/[A-Za-z0-9._~%-]{1,12}){0,3}/?", fullmatch=True)).map(
    lambda parts: f"https://{parts[0]}{parts[1]}"
)
# Free text as people type it: any printable character, quotes, markup and non-ASCII included.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
FILTERS = st.lists(TEXT, min_size=1, max_size=4)


def _optional(**members: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict holding any subset of ``members``."""
    return st.fixed_dictionaries({}, optional=members)


def _filter_configuration() -> st.SearchStrategy[dict[str, Any]]:
    pattern_filter = st.builds(
        lambda object_type, extra: {"objectType": object_type, **extra},
        st.sampled_from(["Page", "Blog", "Comment", "Attachment", "Space", "Account", "File", "Event"]),
        _optional(inclusionFilters=FILTERS, exclusionFilters=FILTERS),
    )
    return st.fixed_dictionaries(
        {"type": st.just("PATTERN"), "patternObjectFilter": st.fixed_dictionaries({"filters": st.lists(pattern_filter, min_size=1, max_size=3)})}
    )


def _crawler() -> st.SearchStrategy[dict[str, Any]]:
    return _optional(filterConfiguration=_filter_configuration())


def _connector(kind: str, key: str, source: st.SearchStrategy[dict[str, Any]],
               crawler: st.SearchStrategy[dict[str, Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A connector's configuration: its ``sourceConfiguration`` and, maybe, a ``crawlerConfiguration``."""
    return st.builds(
        lambda src, extra: {"type": kind, key: {"sourceConfiguration": src, **extra}},
        source,
        _optional(crawlerConfiguration=crawler if crawler is not None else _crawler()),
    )


def s3() -> st.SearchStrategy[dict[str, Any]]:
    bucket = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)
    return st.builds(
        lambda arn, extra: {"type": "S3", "s3Configuration": {"bucketArn": arn, **extra}},
        bucket.map(lambda name: f"arn:aws:s3:::{name}"),
        _optional(
            inclusionPrefixes=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=1),
            bucketOwnerAccountId=st.from_regex(r"[0-9]{12}", fullmatch=True),
        ),
    )


def web() -> st.SearchStrategy[dict[str, Any]]:
    crawler = _optional(
        crawlerLimits=_optional(rateLimit=st.integers(1, 300), maxPages=st.integers(1, 25_000_000)),
        inclusionFilters=FILTERS,
        exclusionFilters=FILTERS,
        scope=st.sampled_from(["HOST_ONLY", "SUBDOMAINS"]),
        userAgent=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=15, max_size=40),
    )
    source = st.lists(HTTPS_URL.map(lambda url: {"url": url}), min_size=1, max_size=5).map(
        lambda seeds: {"urlConfiguration": {"seedUrls": seeds}}
    )
    return _connector("WEB", "webConfiguration", source, crawler)


def confluence() -> st.SearchStrategy[dict[str, Any]]:
    source = st.fixed_dictionaries(
        {
            "hostUrl": HTTPS_URL,
            "hostType": st.just("SAAS"),
            "authType": st.sampled_from(["BASIC", "OAUTH2_CLIENT_CREDENTIALS"]),
            "credentialsSecretArn": SECRET,
        }
    )
    return _connector("CONFLUENCE", "confluenceConfiguration", source)


def salesforce() -> st.SearchStrategy[dict[str, Any]]:
    source = st.fixed_dictionaries(
        {"hostUrl": HTTPS_URL, "authType": st.just("OAUTH2_CLIENT_CREDENTIALS"), "credentialsSecretArn": SECRET}
    )
    return _connector("SALESFORCE", "salesforceConfiguration", source)


def sharepoint() -> st.SearchStrategy[dict[str, Any]]:
    source = st.fixed_dictionaries(
        {
            "domain": st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
            "siteUrls": st.lists(HTTPS_URL, min_size=1, max_size=4),
            "hostType": st.just("ONLINE"),
            "authType": st.sampled_from(["OAUTH2_CLIENT_CREDENTIALS", "OAUTH2_SHAREPOINT_APP_ONLY_CLIENT_CREDENTIALS"]),
            "credentialsSecretArn": SECRET,
        },
        optional={"tenantId": st.uuids().map(str)},
    )
    return _connector("SHAREPOINT", "sharePointConfiguration", source)


def custom() -> st.SearchStrategy[dict[str, Any]]:
    return st.just({"type": "CUSTOM"})


CONFIGURATIONS = {"S3": s3, "WEB": web, "CONFLUENCE": confluence, "SALESFORCE": salesforce, "SHAREPOINT": sharepoint, "CUSTOM": custom}


def chunking() -> st.SearchStrategy[dict[str, Any]]:
    tokens = st.integers(1, 8192)
    return st.one_of(
        st.just({"chunkingStrategy": "NONE"}),
        st.builds(
            lambda t, o: {"chunkingStrategy": "FIXED_SIZE", "fixedSizeChunkingConfiguration": {"maxTokens": t, "overlapPercentage": o}},
            tokens,
            st.integers(1, 99),
        ),
        st.builds(
            lambda a, b, o: {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {"levelConfigurations": [{"maxTokens": a}, {"maxTokens": b}], "overlapTokens": o},
            },
            tokens,
            tokens,
            st.integers(1, 500),
        ),
        st.builds(
            lambda t, b, p: {
                "chunkingStrategy": "SEMANTIC",
                "semanticChunkingConfiguration": {"maxTokens": t, "bufferSize": b, "breakpointPercentileThreshold": p},
            },
            tokens,
            st.integers(0, 1),
            st.integers(50, 99),
        ),
    )


def parsing() -> st.SearchStrategy[dict[str, Any]]:
    model = f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    return st.builds(
        lambda extra: {"parsingStrategy": "BEDROCK_FOUNDATION_MODEL", "bedrockFoundationModelConfiguration": {"modelArn": model, **extra}},
        _optional(parsingPrompt=TEXT.map(lambda text: {"parsingPromptText": text})),
    )


def transformation() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda bucket, function: {
            "intermediateStorage": {"s3Location": {"uri": f"s3://{bucket}/"}},
            "transformations": [
                {
                    "transformationFunction": {
                        "transformationLambdaConfiguration": {"lambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"}
                    },
                    "stepToApply": "POST_CHUNKING",
                }
            ],
        },
        st.from_regex(r"[a-z0-9][a-z0-9-]{2,30}", fullmatch=True),
        st.from_regex(r"[a-zA-Z0-9_-]{1,30}", fullmatch=True),
    )


def vector_ingestion() -> st.SearchStrategy[dict[str, Any]]:
    return _optional(
        chunkingConfiguration=chunking(), parsingConfiguration=parsing(), customTransformationConfiguration=transformation()
    )


def data_source_request(data_source_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """CreateDataSource parameters (without ``knowledgeBaseId``) for one data source type."""
    return st.builds(
        lambda name, config, extra: {"name": name, "dataSourceConfiguration": config, **extra},
        st.from_regex(r"([0-9a-zA-Z][_-]?){1,30}", fullmatch=True),
        CONFIGURATIONS[data_source_type](),
        _optional(
            description=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200),
            dataDeletionPolicy=st.sampled_from(["RETAIN", "DELETE"]),
            vectorIngestionConfiguration=vector_ingestion(),
        ),
    )
