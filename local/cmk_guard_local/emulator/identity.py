"""Caller identity of the emulated account: ``acting_as`` and CloudTrail ``userIdentity`` blocks."""

from __future__ import annotations

import hashlib
import re
from contextvars import ContextVar
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_USER_NAME = "cmk-guard-demo-admin"

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<kind>role|user|root|assumed-role)"
    r"(?:/(?P<rest>.+))?"
)

# A context variable, not a thread local: a new thread starts with no principal (as before), while code that runs
# calls at once in worker threads with the caller's context (``cmk_guard.concurrency``) keeps the caller's identity.
_acting: ContextVar[tuple[Principal, ...]] = ContextVar("cmk_guard_acting_as", default=())


@dataclass(frozen=True)
class Principal:
    """A parsed IAM principal (role, user or root) as the emulator records it."""

    arn: str
    kind: str  # "Role" | "IAMUser" | "Root"
    account_id: str
    name: str
    partition: str = "aws"
    session_name: str | None = None
    access_key_id: str | None = None

    @property
    def session_arn(self) -> str:
        """The STS assumed-role ARN of a role session (the ARN itself for users and root)."""
        if self.kind != "Role":
            return self.arn
        return f"arn:{self.partition}:sts::{self.account_id}:assumed-role/{self.name}/{self.session_name or self.name}"

    @property
    def username(self) -> str:
        """What CloudTrail ``LookupEvents`` reports as ``Username``."""
        if self.kind == "Role":
            return self.session_name or self.name
        return "root" if self.kind == "Root" else self.name


def parse_principal(arn: str, session_name: str | None = None, access_key_id: str | None = None) -> Principal:
    """Parse an IAM role/user/root ARN or an STS assumed-role ARN; raise ``ValueError`` otherwise."""
    m = _ARN.fullmatch(arn)
    if not m:
        raise ValueError(f"not an IAM role, user, root or assumed-role ARN: {arn!r}")
    part, acct, kind, rest = m["partition"], m["account"], m["kind"], m["rest"] or ""
    if kind == "root":
        return Principal(arn, "Root", acct, "root", part, access_key_id=access_key_id)
    if kind == "user":
        return Principal(arn, "IAMUser", acct, rest.rsplit("/", 1)[-1], part, access_key_id=access_key_id)
    if kind == "assumed-role":
        name, _, session = rest.partition("/")
        role_arn = f"arn:{part}:iam::{acct}:role/{name}"
        return Principal(role_arn, "Role", acct, name, part, session_name or session or name, access_key_id)
    return Principal(arn, "Role", acct, rest.rsplit("/", 1)[-1], part, session_name, access_key_id)


def default_principal_arn(account_id: str | None = None) -> str:
    """The identity used when no ``acting_as`` is in effect."""
    return f"arn:aws:iam::{account_id or _default_account()}:user/{DEFAULT_USER_NAME}"


def _default_account() -> str:
    from . import hooks  # late import: hooks imports this module

    active = hooks.active_account()
    return active.account_id if active is not None else DEFAULT_ACCOUNT_ID


@contextmanager
def acting_as(principal_arn: str, session_name: str | None = None) -> Iterator[Principal]:
    """Make the current thread (and work it hands its context to) call AWS as ``principal_arn`` (an IAM role or user ARN) until the block ends."""
    principal = parse_principal(principal_arn, session_name)
    token = _acting.set((*_acting.get(), principal))
    try:
        yield principal
    finally:
        _acting.reset(token)


def current_principal() -> str:
    """The IAM ARN the current thread acts as (default ``arn:aws:iam::<account>:user/cmk-guard-demo-admin``)."""
    explicit = acting_principal()
    return explicit.arn if explicit is not None else default_principal_arn()


def acting_principal() -> Principal | None:
    """The innermost ``acting_as`` principal of this thread, if any."""
    stack = _acting.get()
    return stack[-1] if stack else None


def _fake_id(prefix: str, seed: str, length: int = 17) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest().upper()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(alphabet[int(digest[i : i + 2], 16) % 32] for i in range(0, 2 * length, 2))


def _iam_entity_id(principal: Principal) -> str:
    """The unique id (AROA…/AIDA…) of a role or user, from moto's IAM when it knows the entity."""
    try:
        from moto.iam.models import iam_backends

        iam = iam_backends[principal.account_id][principal.partition]
        if principal.kind == "Role":
            return iam.get_role_by_arn(principal.arn).id
        return iam.get_user(principal.name).id
    except Exception:  # noqa: BLE001 - unknown to moto: derive a stable fake id
        return _fake_id("AROA" if principal.kind == "Role" else "AIDA", principal.arn)


def user_identity(principal: Principal, invoked_by: str | None = None) -> dict:
    """The CloudTrail ``userIdentity`` block for a call made by ``principal``."""
    key = principal.access_key_id or _fake_id("ASIA" if principal.kind == "Role" else "AKIA", principal.arn, 16)
    if principal.kind == "Root":
        ident: dict = {"type": "Root", "principalId": principal.account_id, "arn": principal.arn,
                       "accountId": principal.account_id, "accessKeyId": key}
    elif principal.kind == "IAMUser":
        ident = {"type": "IAMUser", "principalId": _iam_entity_id(principal), "arn": principal.arn,
                 "accountId": principal.account_id, "accessKeyId": key, "userName": principal.name}
    else:
        role_id = _iam_entity_id(principal)
        session = principal.session_name or principal.name
        ident = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": principal.session_arn,
            "accountId": principal.account_id,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": principal.arn,
                                  "accountId": principal.account_id, "userName": principal.name},
                "attributes": {"creationDate": _session_start().strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "mfaAuthenticated": "false"},
            },
        }
    if invoked_by:
        ident["invokedBy"] = invoked_by
    return ident


def _session_start() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
