"""The approval page, pure: small accessible HTML that needs no JavaScript, and the headers it is served with.

The form has no ``action``: it posts back to the URL it was opened from, so the approval id appears nowhere in the
HTML. Every value shown is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from typing import Any

from cmk_guard.core.approval import MAX_NAME, MAX_REASON, readable_time

STYLE = """
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; padding: 1rem; line-height: 1.5; }
main { max-width: 42rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.15rem; margin-top: 1.5rem; }
dl { display: grid; grid-template-columns: minmax(7rem, max-content) 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
ol li { margin-bottom: 0.5rem; overflow-wrap: anywhere; }
label { display: block; font-weight: 600; margin-top: 1rem; }
input, textarea { width: 100%; box-sizing: border-box; font: inherit; padding: 0.5rem; }
.buttons { display: flex; flex-wrap: wrap; gap: 0.75rem; margin-top: 1.25rem; }
button { font: inherit; font-weight: 600; padding: 0.75rem 1.5rem; border-radius: 0.4rem; border: 2px solid #1d4ed8;
  cursor: pointer; min-width: 9rem; }
button.approve { background: #1d4ed8; color: #fff; }
button.reject { background: transparent; color: inherit; border-color: #b91c1c; }
.notice { border-left: 4px solid #b45309; padding: 0.5rem 1rem; }
.error { border-left: 4px solid #b91c1c; padding: 0.5rem 1rem; }
.small { font-size: 0.9rem; opacity: 0.85; }
""".strip()
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # No script at all; only this page's own style block; the form may only post back to this origin.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin (not no-referrer): browsers then send a real Origin header with the form's POST.
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{escape(title)} - cmk-guard</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _details(items: list[tuple[str, str]]) -> str:
    """The description: where and why as a definition list, the plan as an ordered list."""
    facts: list[str] = []
    steps: list[str] = []
    heading = ""
    for label, text in items:
        if not text:
            heading = label
        elif heading:
            name = label.split(". ", 1)[-1]
            steps.append(f"<li><strong>{escape(name)}:</strong> {escape(text)}</li>")
        else:
            facts.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    html = f"<dl>\n{''.join(facts)}\n</dl>"
    if steps:
        html += f"\n<h2>{escape(heading)}</h2>\n<ol>\n{''.join(steps)}\n</ol>"
    return html


def pending(request: dict[str, Any], *, error: str | None = None, name: str = "", reason: str = "") -> Page:
    """The page a GET shows while a request waits: the details and a form with two buttons. It decides nothing."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    body = (
        "<h1>Approve a KMS key change?</h1>\n"
        f"{alert}"
        "<p>cmk-guard wants to move a Bedrock knowledge base data source onto a customer-managed KMS key. "
        "Nothing changes until someone approves.</p>\n"
        f"{_details(request.get('description') or [])}\n"
        f'<p class="notice">Decide by <strong>{escape(readable_time(str(request.get("deadline"))))}</strong>. '
        "Without a decision by then nothing is changed.</p>\n"
        '<form method="post">\n'
        '<label for="name">Your name (recorded with the decision)</label>\n'
        f'<input id="name" name="name" type="text" required maxlength="{MAX_NAME}" autocomplete="name" '
        f'value="{escape(name)}">\n'
        '<label for="reason">Reason (optional; recorded with the decision)</label>\n'
        f'<textarea id="reason" name="reason" rows="3" maxlength="{MAX_REASON}">{escape(reason)}</textarea>\n'
        '<div class="buttons">\n'
        '<button type="submit" name="decision" value="approve" class="approve">Approve</button>\n'
        '<button type="submit" name="decision" value="reject" class="reject">Reject</button>\n'
        "</div>\n</form>\n"
        '<p class="small">This link works for one decision and expires at the deadline. Opening it decides nothing.</p>'
    )
    return Page(400 if error else 200, _document("Approve a KMS key change?", body))


def message(status: int, title: str, text: str) -> Page:
    """A page that only tells what happened (or did not)."""
    body = f"<h1>{escape(title)}</h1>\n<p>{escape(text)}</p>"
    return Page(status, _document(title, body))


def not_found() -> Page:
    return message(
        404,
        "Approval link not valid",
        "This approval link is not known to cmk-guard: it may be incomplete or altered. Nothing was decided.",
    )


def expired(request: dict[str, Any]) -> Page:
    deadline = readable_time(str(request.get("deadline")))
    return message(
        410,
        "Approval request expired",
        f"The deadline ({deadline}) has passed, so nothing was changed. A new change to the data source asks again.",
    )


def no_longer_waiting() -> Page:
    return message(
        410,
        "Approval request no longer open",
        "The workflow no longer waits for this decision (it timed out or ended). Nothing was changed by this page.",
    )


def already_decided(request: dict[str, Any]) -> Page:
    who = (request.get("decidedBy") or {}).get("name", "someone")
    when = readable_time(str(request.get("decidedAt")))
    return message(
        409,
        "Already decided",
        f"This request was already {request.get('decision')} by {who} at {when}. Nothing was changed now.",
    )


def decided(decision: str) -> Page:
    if decision == "approved":
        return message(
            200,
            "Approved",
            "Thank you. cmk-guard now applies the fix; the outcome goes to the operations topic.",
        )
    return message(200, "Rejected", "Thank you. Nothing will be changed; your decision and reason were recorded.")


def cross_site() -> Page:
    return message(403, "Not sent from the approval page", "Open the link from the e-mail and decide on that page.")


def try_again() -> Page:
    return message(
        503,
        "Decision not delivered",
        "cmk-guard could not hand the decision to the workflow, so nothing was decided. Try again in a minute.",
    )
