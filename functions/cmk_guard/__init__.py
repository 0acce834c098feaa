"""cmk-guard: keeps Amazon Bedrock Knowledge Base data sources on customer-managed KMS keys.

Layout: ``core`` is pure logic (no I/O), ``adapters`` wrap one AWS service each, ``handlers`` are the thin
Lambda entry points that the ``remediate`` state machine calls.
"""
