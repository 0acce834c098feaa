"""The demo's approval round trip: the e-mail, the page (GET, as text), the decision (POST), the fix."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import boto3

from cmk_guard_local.emulator import acting_as
from cmk_guard_local.scenario import Estate
from cmk_guard_local.stack import EmulatedStack

LINK = re.compile(r"^https?://\S+/approvals/\S+$", re.MULTILINE)
BLOCKS = {"h1", "h2", "p", "dt", "li", "label", "button", "form", "ol", "dl"}


class _Text(HTMLParser):
    """The page as a person reads it: text of block elements on their own lines, buttons in brackets."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = [""]
        self._skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip = tag in {"style", "title"}
        if tag in BLOCKS:
            self.lines.append("")
        if tag == "li":
            self.lines[-1] += "- "
        if tag == "button":
            self.lines[-1] += "[ "
        if tag in {"input", "textarea"}:
            self.lines[-1] += "[ ________ ]"

    def handle_endtag(self, tag: str) -> None:
        self._skip = False
        if tag == "button":
            self.lines[-1] += " ]"
        if tag == "dt":
            self.lines[-1] += ": "

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.lines[-1] += re.sub(r"\s+", " ", data)

    def text(self) -> str:
        return "\n".join(" ".join(line.split()) for line in self.lines if line.strip())


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return parser.text()


def _approval_mail(stack: EmulatedStack, timeout: float = 30) -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name=stack.region)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=stack.refs["ApprovalTopic.InboxUrl"]).get("Messages", []):
            sqs.delete_message(QueueUrl=stack.refs["ApprovalTopic.InboxUrl"], ReceiptHandle=message["ReceiptHandle"])
            return json.loads(message["Body"])
        time.sleep(0.05)
    raise TimeoutError("no approval e-mail arrived")


def _send(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=data, headers={"User-Agent": "cmk-guard demo browser", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def round_trip(
    stack: EmulatedStack,
    estate: Estate,
    admin: str,
    step: Callable[[str, str], None],
    tell: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """A knowledge base tagged for approval gets a data source without a key; a person approves on the page."""
    with acting_as(admin):
        role = estate.kb_role("kb-approvals")
        kb = estate.knowledge_base("contracts", role, tags={"cmk-guard:mode": "approval"})
        estate.data_source(kb["knowledgeBaseId"], "signed")
    execution = stack.deliveries[-1].execution_arn
    mail = _approval_mail(stack)
    step("e-mail", f"Subject: {mail['Subject']}\n\n{mail['Message'].rstrip()}")
    (link,) = LINK.findall(mail["Message"])
    status, html = _send(link)
    for _ in range(2):  # a mail scanner fetching the link decides nothing
        _send(link, headers={"User-Agent": "Mozilla/5.0 (compatible; OneOutlook)"})
    state = boto3.client("stepfunctions", region_name=stack.region).describe_execution(executionArn=execution)["status"]
    step("GET page", f"HTTP {status} (three GETs so far, the workflow is still {state})\n{page_text(html)}")
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(link))
    form = urllib.parse.urlencode({"decision": "approve", "name": "Dana Admin", "reason": "change ticket CHG-1042"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    status, html = _send(link, form.encode(), headers)
    step("POST decide", f"decision=approve name=Dana Admin -> HTTP {status}\n{page_text(html)}")
    status, html = _send(link, form.replace("approve", "reject").encode(), headers)
    step("POST again", f"decision=reject -> HTTP {status}: {page_text(html).splitlines()[0]}")
    return tell(stack, execution)
