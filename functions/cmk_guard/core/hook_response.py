"""The JSON a CloudFormation Lambda hook returns, built from a ``HookFinding``. Pure.

Shape and limits from the CloudFormation Hooks User Guide, "Create Lambda functions to evaluate resources for Lambda
Hooks", section "Response input"
(https://docs.aws.amazon.com/cloudformation-cli/latest/hooks-userguide/lambda-hooks-create-lambda-function.html):

- ``hookStatus`` (required): ``SUCCESS`` | ``FAILED`` | ``IN_PROGRESS`` (cmk-guard never defers: no
  ``IN_PROGRESS``, no ``callbackContext``);
- ``errorCode`` (required when the hook fails): ``NonCompliant`` (evaluated and found invalid) or
  ``InternalFailure`` (an error prevented the evaluation);
- ``message``: shown to the caller whether the hook succeeded or failed; truncated by CloudFormation to 4096
  characters (1024 for Cloud Control API), so cmk-guard keeps it within 4096 itself;
- ``clientRequestToken`` (required): the token of the request;
- ``annotations``: ``annotationName``, ``status`` (``PASSED`` | ``FAILED`` | ``SKIPPED``), ``statusMessage``,
  ``remediationMessage``, ``severityLevel`` (``INFORMATIONAL`` | ``LOW`` | ``MEDIUM`` | ``HIGH`` | ``CRITICAL``).

What a ``FAILED`` response does depends on the hook's ``FailureMode`` (Hooks User Guide, "Hooks concepts", and the
CloudFormation API's ``HookResultSummary``): ``FAIL`` stops the operation, ``WARN`` lets it continue with a warning.
"""

from __future__ import annotations

from typing import Any

from cmk_guard.core.hook_verdict import HookDecision, HookFinding
from cmk_guard.core.models import Verdict

ANNOTATION_NAME = "CmkGuardDataSourceCustomerManagedKey"
MESSAGE_LIMIT = 4096
ANNOTATION_LIMIT = 16384  # StatusMessage and RemediationMessage in the CloudFormation API's Annotation


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _annotation(finding: HookFinding) -> dict[str, Any]:
    if finding.decision is HookDecision.REFUSE:
        status, severity = "FAILED", "HIGH"
    elif finding.decision is HookDecision.ALLOW and finding.verdict is Verdict.COMPLIANT:
        status, severity = "PASSED", "INFORMATIONAL"
    elif finding.decision is HookDecision.ALLOW:
        status, severity = "SKIPPED", "INFORMATIONAL"
    else:  # WARN (not checkable at hook time) or ERROR (not evaluated)
        status, severity = "SKIPPED", "MEDIUM"
    annotation: dict[str, Any] = {
        "annotationName": ANNOTATION_NAME,
        "status": status,
        "statusMessage": _clip(f"{finding.reason}: {finding.detail}", ANNOTATION_LIMIT),
        "severityLevel": severity,
    }
    if finding.remediation:
        annotation["remediationMessage"] = _clip(finding.remediation, ANNOTATION_LIMIT)
    return annotation


def respond(client_request_token: str, finding: HookFinding) -> dict[str, Any]:
    """The hook response for ``finding``: ``SUCCESS`` for ALLOW and WARN, ``FAILED`` for REFUSE and ERROR."""
    failed = finding.decision in (HookDecision.REFUSE, HookDecision.ERROR)
    response: dict[str, Any] = {
        "hookStatus": "FAILED" if failed else "SUCCESS",
        "message": _clip(finding.message, MESSAGE_LIMIT),
        "clientRequestToken": client_request_token,
        "annotations": [_annotation(finding)],
    }
    if failed:
        response["errorCode"] = "NonCompliant" if finding.decision is HookDecision.REFUSE else "InternalFailure"
    return response
