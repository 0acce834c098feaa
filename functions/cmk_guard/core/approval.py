"""Approvals, pure: approval ids and their ledger key, the decision a person posts, the e-mail, the summaries.

An approval id is a capability: whoever holds the link may decide. It carries at least 128 random bits, travels
only in the e-mail, and the ledger keeps only its SHA-256, so reading the ledger never yields a working link.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cmk_guard.core.proposal import describe

ID_BYTES = 32  # secrets.token_urlsafe(32): 256 random bits, 43 URL-safe characters
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
KEY_PREFIX = "APPROVAL#"
MAX_NAME = 100
MAX_REASON = 1000
MAX_USER_AGENT = 300
# An expired or decided request stays readable this long (for a clear "expired"/"already decided" page), then the
# table's TTL removes it.
RETENTION_AFTER_DEADLINE_SECONDS = 30 * 24 * 3600


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def well_formed(approval_id: str) -> bool:
    return bool(ID_PATTERN.fullmatch(approval_id or ""))


def ledger_key(approval_id: str) -> str:
    """The ledger partition of an approval: a SHA-256 of the id, never the id itself."""
    return KEY_PREFIX + hashlib.sha256(approval_id.encode("ascii")).hexdigest()


def _clean(text: str) -> str:
    """One line of printable text: control and format characters dropped, whitespace collapsed."""
    kept = "".join(ch if unicodedata.category(ch)[0] not in {"C"} else " " for ch in text)
    return " ".join(kept.split())


class DecisionForm(BaseModel):
    """What the approval page's form posts. Anything else is refused before the ledger is touched."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    decision: str = Field(pattern=r"^(approve|reject)$")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    reason: str = Field(default="", max_length=MAX_REASON)

    @field_validator("name", "reason", mode="before")
    @classmethod
    def _printable(cls, value: object) -> object:
        return _clean(value) if isinstance(value, str) else value

    @property
    def outcome(self) -> Decision:
        return Decision.APPROVED if self.decision == "approve" else Decision.REJECTED


def decided_by(name: str, source_ip: str, user_agent: str) -> dict[str, str]:
    """Who decided, as far as the page can tell: the name typed, the source IP and the browser's user agent."""
    return {"name": name, "sourceIp": _clean(source_ip)[:64], "userAgent": _clean(user_agent)[:MAX_USER_AGENT]}


def callback_output(
    form: DecisionForm, who: dict[str, str], requested_at: str, deadline: str, decided_at: str
) -> dict[str, Any]:
    """The task output the workflow continues with (``$.approval``)."""
    output: dict[str, Any] = {
        "decision": form.outcome.value,
        "decidedBy": who,
        "decidedAt": decided_at,
        "requestedAt": requested_at,
        "deadline": deadline,
    }
    if form.reason:
        output["reason"] = form.reason
    return output


def readable_time(iso: str) -> str:
    """``2026-12-02T06:00:00+00:00`` as ``2026-12-02 06:00 UTC``."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return str(iso)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def email(state: dict[str, Any], link: str, deadline: str) -> tuple[str, str]:
    """Subject and plain-text body of the approval e-mail: the description, the deadline and one link."""
    target = state.get("target") or {}
    kb = (state.get("check") or {}).get("knowledgeBase") or {}
    where = f"{kb.get('name') or target.get('knowledgeBaseId', '?')}/{target.get('dataSourceId', '?')}"
    subject = f"cmk-guard approval needed: KMS key for {where}"
    lines = [
        "cmk-guard found a Bedrock knowledge base data source that is not on a customer-managed KMS key.",
        "It changes nothing until a person approves.",
        "",
        *describe(state),
        "",
        f"Deadline:         {readable_time(deadline)}. Without a decision by then nothing is changed.",
        "",
        "Review and decide:",
        link,
        "",
        "Opening the link decides nothing: the page shows these details and asks you to approve or reject.",
        "The link works for one decision and expires at the deadline. Do not forward this e-mail.",
    ]
    return subject, "\n".join(lines) + "\n"


def summary(approval: dict[str, Any]) -> str | None:
    """One line on how the approval ended, for the outcome's reason and the notification."""
    decision = approval.get("decision")
    if decision == Decision.EXPIRED:
        deadline = approval.get("deadline") or approval.get("expiredAt")
        when = f" (deadline {readable_time(deadline)})" if deadline else ""
        return f"nobody approved or rejected the fix in time{when}; nothing was changed"
    if decision not in {Decision.APPROVED, Decision.REJECTED}:
        return None
    who = approval.get("decidedBy") or {}
    by = f"{who.get('name', '?')} (source IP {who.get('sourceIp', '?')}, user agent {who.get('userAgent', '?')})"
    reason = approval.get("reason")
    because = f": {reason}" if reason else (" (no reason given)" if decision == Decision.REJECTED else "")
    return f"{decision} by {by} at {readable_time(str(approval.get('decidedAt')))}{because}"


def same_origin(headers: dict[str, str]) -> bool:
    """Whether a POST came from the approval page itself, judged by the headers browsers set (names lower-case).

    ``Sec-Fetch-Site`` other than same-origin, or an ``Origin`` (``null`` included) whose host is not this host,
    means another site made the browser post. Clients that send neither are not browsers acting for someone else.
    """
    site = headers.get("sec-fetch-site")
    if site and site not in {"same-origin", "none"}:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "").lower()
    return origin != "null" and bool(host) and urlsplit(origin).netloc.lower() == host
