"""Approvals, pure: ids and their ledger key, the posted form, same-origin checks, the e-mail, the page, summaries."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cmk_guard.core import approval_page as pages
from cmk_guard.core.approval import (
    ID_BYTES,
    DecisionForm,
    callback_output,
    decided_by,
    email,
    ledger_key,
    same_origin,
    summary,
    well_formed,
)
from cmk_guard.core.outcome import decide_outcome, outcome_reason
from cmk_guard.core.proposal import description
from cmk_guard.core.report import metric_points, notification

STATE = {
    "target": {
        "accountId": "123456789012",
        "region": "eu-west-1",
        "knowledgeBaseId": "KB12345678",
        "dataSourceId": "DS12345678",
    },
    "check": {
        "verdict": "NON_COMPLIANT",
        "reason": "AWS_OWNED_KEY",
        "detail": "no kmsKeyArn",
        "mode": "approval",
        "knowledgeBase": {"knowledgeBaseId": "KB12345678", "name": "payroll <docs>"},
    },
    "proposal": {
        "strategy": "per-knowledge-base",
        "scope": "knowledge-base:KB12345678",
        "alias": "alias/cmk-guard/kb/KB12345678",
        "keyAction": "create",
        "keyUser": "arn:aws:iam::123456789012:role/service-role/kb-role",
        "keyUseActions": ["kms:GenerateDataKey", "kms:Decrypt"],
        "admins": ["arn:aws:iam::123456789012:root"],
        "rotationPeriodDays": 365,
        "syncAfterUpdate": True,
        "approvalTimeoutSeconds": 259200,
    },
}


# -- ids --------------------------------------------------------------------------------------------------------
def test_ids_are_256_random_bits_and_the_ledger_keeps_only_their_hash() -> None:
    approval_id = secrets.token_urlsafe(ID_BYTES)
    assert well_formed(approval_id) and len(base64.urlsafe_b64decode(approval_id + "=")) * 8 == 256
    key = ledger_key(approval_id)
    assert key == "APPROVAL#" + hashlib.sha256(approval_id.encode()).hexdigest()
    assert approval_id not in key


@pytest.mark.parametrize("bad", ["", "short", "x" * 42, "x" * 44, "a/" * 21 + "a", "é" * 43, "../" * 14 + "a"])
def test_malformed_ids_are_refused(bad: str) -> None:
    assert not well_formed(bad)


# -- the posted form --------------------------------------------------------------------------------------------
def test_a_decision_needs_a_known_decision_and_a_name() -> None:
    assert DecisionForm.model_validate({"decision": "approve", "name": " Dana "}).name == "Dana"
    assert DecisionForm.model_validate({"decision": "reject", "name": "Dana"}).outcome.value == "rejected"
    for fields in (
        {"decision": "approve"},
        {"decision": "approve", "name": "  "},
        {"decision": "yes", "name": "D"},
        {},
    ):
        with pytest.raises(ValidationError):
            DecisionForm.model_validate(fields)
    with pytest.raises(ValidationError):
        DecisionForm.model_validate({"decision": "reject", "name": "D", "reason": "x" * 1001})


@given(st.text(max_size=60))
def test_names_and_reasons_become_one_printable_line(text: str) -> None:
    form = DecisionForm.model_validate({"decision": "reject", "name": "N" + text, "reason": text})
    for value in (form.name, form.reason):
        assert "\n" not in value and "\r" not in value and "\x00" not in value and "\u202e" not in value


def test_callback_output_and_who() -> None:
    form = DecisionForm.model_validate({"decision": "reject", "name": "Sam", "reason": "not now"})
    who = decided_by("Sam", "198.51.100.7", "Mozilla/5.0\r\nX-Injected: 1" + "x" * 500)
    assert "\n" not in who["userAgent"] and len(who["userAgent"]) == 300
    output = callback_output(
        form, who, "2026-11-29T06:00:00+00:00", "2026-12-02T06:00:00+00:00", "2026-11-29T07:30:00+00:00"
    )
    assert (
        output["decision"] == "rejected"
        and output["reason"] == "not now"
        and output["decidedBy"]["sourceIp"] == "198.51.100.7"
    )


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        (
            {
                "host": "abc.execute-api.eu-west-1.amazonaws.com",
                "origin": "https://abc.execute-api.eu-west-1.amazonaws.com",
                "sec-fetch-site": "same-origin",
            },
            True,
        ),
        ({"host": "abc.execute-api.eu-west-1.amazonaws.com"}, True),  # not a browser acting for someone else
        ({"host": "abc.example", "origin": "https://evil.example"}, False),
        ({"host": "abc.example", "origin": "null"}, False),
        ({"host": "abc.example", "sec-fetch-site": "cross-site"}, False),
        ({"host": "abc.example", "sec-fetch-site": "same-site", "origin": "https://abc.example"}, False),
        ({"host": "127.0.0.1:8080", "origin": "http://127.0.0.1:8080", "sec-fetch-site": "same-origin"}, True),
        ({"origin": "https://abc.example"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], ok: bool) -> None:
    assert same_origin(headers) is ok


# -- the e-mail and the description -----------------------------------------------------------------------------
def test_the_email_has_the_description_the_deadline_and_one_link() -> None:
    link = "https://abc.execute-api.eu-west-1.amazonaws.com/approvals/" + "a" * 43
    subject, body = email(STATE, link, "2026-12-02T06:00:00+00:00")
    assert len(subject) <= 100 and "payroll <docs>/DS12345678" in subject
    assert body.count("https://") == 1 and link in body.splitlines()
    for text in (
        "123456789012",
        "eu-west-1",
        "payroll <docs> (KB12345678)",
        "DS12345678",
        "AWS_OWNED_KEY: no kmsKeyArn",
        "create a new customer-managed KMS key with alias alias/cmk-guard/kb/KB12345678",
        "only the knowledge base's service role arn:aws:iam::123456789012:role/service-role/kb-role",
        "Deadline:         2026-12-02 06:00 UTC",
        "Opening the link decides nothing",
    ):
        assert text in body, text


def test_notify_sends_the_same_description_without_a_link() -> None:
    state = {**STATE, "check": {**STATE["check"], "mode": "notify"}}
    _, body = notification(state, decide_outcome(state), outcome_reason(state, decide_outcome(state)), "arn:exec")
    _, mail = email(state, "https://x/approvals/" + "a" * 43, "2026-12-02T06:00:00+00:00")
    assert decide_outcome(state).value == "NOTIFIED"
    assert "/approvals/" not in body and "What cmk-guard would do" in body
    steps = [line for line in mail.splitlines() if line.startswith("  ")]
    assert steps and all(line in body.splitlines() for line in steps), "the same plan, word for word"


# -- outcomes, summaries, metrics -------------------------------------------------------------------------------
def test_rejected_and_expired_outcomes_say_who_why_and_when() -> None:
    rejected = {
        **STATE,
        "approval": {
            "decision": "rejected",
            "reason": "freeze",
            "decidedAt": "2026-11-29T07:30:00+00:00",
            "requestedAt": "2026-11-29T06:00:00+00:00",
            "decidedBy": {"name": "Sam", "sourceIp": "198.51.100.7", "userAgent": "UA"},
        },
    }
    assert decide_outcome(rejected).value == "APPROVAL_REJECTED"
    reason = outcome_reason(rejected, decide_outcome(rejected))
    assert reason == "rejected by Sam (source IP 198.51.100.7, user agent UA) at 2026-11-29 07:30 UTC: freeze"
    points = {p.name: p.value for p in metric_points(rejected, decide_outcome(rejected))}
    assert points["ApprovalWaitSeconds"] == 5400
    expired = {
        **STATE,
        "approval": {"decision": "expired", "expiredAt": "2026-12-02T06:00:01Z", "timeoutSeconds": 259200},
    }
    assert decide_outcome(expired).value == "APPROVAL_EXPIRED"
    assert "nothing was changed" in outcome_reason(expired, decide_outcome(expired))
    assert "ApprovalWaitSeconds" not in {p.name for p in metric_points(expired, decide_outcome(expired))}
    assert summary({"decision": "something else"}) is None


def test_an_unexpected_callback_output_is_never_a_success() -> None:
    odd = {**STATE, "approval": {"decision": "maybe"}}
    assert decide_outcome(odd).value == "FAILED"


# -- the page ---------------------------------------------------------------------------------------------------
class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _inspect(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Inspector()
    parser.feed(html)
    return parser.tags


def test_the_pending_page_is_small_accessible_and_scriptless() -> None:
    request = {"description": description(STATE), "deadline": "2026-12-02T06:00:00+00:00"}
    page = pages.pending(request)
    tags = _inspect(page.html)
    assert page.status == 200 and len(page.html) < 12_000
    assert ("html", {"lang": "en"}) in tags
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in tags
    assert not [t for t, _ in tags if t in {"script", "iframe", "img", "link"}]
    (form,) = [a for t, a in tags if t == "form"]
    assert form == {"method": "post"}, "no action: it posts back to the page's own URL, so the id is not in the HTML"
    labels = {a["for"] for t, a in tags if t == "label"}
    fields = {a["id"] for t, a in tags if t in {"input", "textarea"}}
    assert labels == fields == {"name", "reason"}
    buttons = [(a["name"], a["value"]) for t, a in tags if t == "button"]
    assert buttons == [("decision", "approve"), ("decision", "reject")]
    assert "payroll &lt;docs&gt;" in page.html and "<docs>" not in page.html
    assert "2026-12-02 06:00 UTC" in page.html


def test_the_page_headers_forbid_scripts_framing_and_caching() -> None:
    style = re.search(r"<style>(.*)</style>", pages.pending({"description": [], "deadline": "x"}).html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = pages.HEADERS["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp and "form-action 'self'" in csp
    assert "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert pages.HEADERS["Cache-Control"] == "no-store"
    assert pages.HEADERS["Referrer-Policy"] == "same-origin", "no-referrer would make browsers send Origin: null"


@pytest.mark.parametrize(
    ("page", "status"),
    [
        (pages.not_found(), 404),
        (pages.expired({"deadline": "2026-12-02T06:00:00+00:00"}), 410),
        (pages.no_longer_waiting(), 410),
        (
            pages.already_decided(
                {"decision": "approved", "decidedBy": {"name": "<b>Dana</b>"}, "decidedAt": "2026-11-29T07:00:00Z"}
            ),
            409,
        ),
        (pages.cross_site(), 403),
        (pages.try_again(), 503),
    ],
)
def test_closed_pages_have_no_form_and_escape_everything(page: pages.Page, status: int) -> None:
    assert page.status == status
    tags = [t for t, _ in _inspect(page.html)]
    assert "form" not in tags and "button" not in tags and "b" not in tags
