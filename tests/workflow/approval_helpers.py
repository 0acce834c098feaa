"""Helpers for the approval tests: read the approval e-mail, talk to the approval page like a browser or a scanner."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

from cmk_guard.core.approval import ledger_key
from cmk_guard_local.stack import EmulatedStack

LINK = re.compile(r"^(http://127\.0\.0\.1:\d+)/approvals/([A-Za-z0-9_-]+)$", re.MULTILINE)
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


@dataclass(frozen=True)
class ApprovalMail:
    subject: str
    body: str
    link: str
    endpoint: str
    approval_id: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]


def approval_mails(stack: EmulatedStack, expect: int = 1, timeout: float = 30) -> list[ApprovalMail]:
    """Wait until ``expect`` approval e-mails arrived on the approval topic's inbox; return them all."""
    sqs = boto3.client("sqs", region_name=stack.region)
    url = stack.refs["ApprovalTopic.InboxUrl"]
    mails: list[ApprovalMail] = []
    deadline = time.monotonic() + timeout
    while len(mails) < expect and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(message["Body"])
            links = LINK.findall(envelope["Message"])
            assert len(links) == 1, f"an approval e-mail carries exactly one link: {envelope['Message']}"
            endpoint, approval_id = links[0]
            mails.append(
                ApprovalMail(
                    envelope["Subject"],
                    envelope["Message"],
                    f"{endpoint}/approvals/{approval_id}",
                    endpoint,
                    approval_id,
                )
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(mails) < expect:
            time.sleep(0.05)
    assert len(mails) >= expect, f"expected {expect} approval e-mail(s), got {len(mails)}"
    return mails


def no_more_mails(stack: EmulatedStack) -> bool:
    sqs = boto3.client("sqs", region_name=stack.region)
    return not sqs.receive_message(QueueUrl=stack.refs["ApprovalTopic.InboxUrl"], MaxNumberOfMessages=10).get(
        "Messages"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    sent = {"User-Agent": BROWSER_UA, **(headers or {})}
    try:
        with _OPENER.open(urllib.request.Request(url, data=data, method=method, headers=sent), timeout=30) as response:
            return Answer(response.status, response.read().decode(), dict(response.headers.items()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode(), dict(error.headers.items()))


def get(url: str, **headers: str) -> Answer:
    return request(url, headers=headers)


def post(
    url: str, fields: dict[str, str], *, same_origin: bool = True, headers: dict[str, str] | None = None
) -> Answer:
    """A form post as a browser sends it from the page: urlencoded, with the page's Origin and Sec-Fetch-Site."""
    sent = {"Content-Type": "application/x-www-form-urlencoded"}
    if same_origin:
        parts = urllib.parse.urlsplit(url)
        sent |= {"Origin": f"{parts.scheme}://{parts.netloc}", "Sec-Fetch-Site": "same-origin"}
    sent |= headers or {}
    return request(url, method="POST", data=urllib.parse.urlencode(fields).encode(), headers=sent)


def approval_item(stack: EmulatedStack, approval_id: str) -> dict[str, Any] | None:
    item = (
        boto3.client("dynamodb", region_name=stack.region)
        .get_item(
            TableName=stack.ledger_table,
            Key={"pk": {"S": ledger_key(approval_id)}, "sk": {"S": "REQUEST"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item


def status(stack: EmulatedStack, execution_arn: str) -> str:
    return boto3.client("stepfunctions", region_name=stack.region).describe_execution(executionArn=execution_arn)[
        "status"
    ]


def entered_states(stack: EmulatedStack, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in stack.history(execution_arn) if e.get("stateEnteredEventDetails")
    ]


def task_token(stack: EmulatedStack, execution_arn: str) -> str:
    """The token Step Functions issued to RequestApproval (from the execution's own history)."""
    for event in stack.history(execution_arn):
        details = event.get("taskScheduledEventDetails")
        if details and "waitForTaskToken" in details.get("resource", ""):
            return json.loads(details["parameters"])["Payload"]["taskToken"]
    raise LookupError("RequestApproval was never scheduled")


def callback_calls(account: Any) -> list[Any]:
    return [c for c in account.calls if c.service == "stepfunctions" and c.operation.startswith("SendTask")]
