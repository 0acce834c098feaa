"""botocore event handlers that put the emulated account in front of moto.

Installed into ``botocore.handlers.BUILTIN_HANDLERS`` at import, so every botocore session created afterwards
carries them; inert while no :class:`EmulatedAccount` is active.

- ``before-parameter-build``: stashes the API parameters and operation model in the request ``context``.
- ``before-send``: replaces moto's stubber entry with a dispatcher. botocore calls *every* ``before-send``
  handler, so a handler merely registered ahead of moto would still let moto execute the call (and mutate its
  state under an injected fault). The dispatcher logs the attempt, applies faults, answers bedrock-agent,
  ``cloudtrail.LookupEvents``, ``events.TestEventPattern``, KMS rotation periods and ``sts.GetCallerIdentity``
  (for ``acting_as``) itself, refuses ``sts.AssumeRole`` that the role's trust policy does not allow (``trust``),
  and delegates everything else to moto's stubber.
- ``response-received`` (once per attempt): writes the CloudTrail record.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from botocore.model import OperationModel

from . import kms_rotation, trust, wire
from .eventbridge import test_event_pattern
from .faults import Fault, fault_error
from .identity import (DEFAULT_ACCOUNT_ID, Principal, acting_principal, default_principal_arn, parse_principal,
                       user_identity)
from .trail_records import api_call_record, is_data_event

if TYPE_CHECKING:
    from .account import EmulatedAccount

log = logging.getLogger(__name__)
CONTEXT_KEY = "cmk_guard_emulator"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")

_active: EmulatedAccount | None = None
_active_lock = threading.Lock()
_installed = False


class EmulatorNotImplemented(NotImplementedError):
    """An operation of an emulated service that the emulator does not implement."""


@dataclass
class CallInfo:
    """One API call (all its attempts), kept in botocore's request context."""

    service: str
    operation: OperationModel
    params: dict
    account: str = ""
    region: str = ""
    principal: Principal | None = None
    user_agent: str = ""
    request_id: str = ""
    from_sts_session: bool = False


def active_account() -> EmulatedAccount | None:
    return _active


def activate(account: EmulatedAccount) -> None:
    global _active
    with _active_lock:
        if _active is not None and _active is not account:
            raise RuntimeError("another EmulatedAccount is already active")
        _active = account


def deactivate(account: EmulatedAccount) -> None:
    global _active
    with _active_lock:
        if _active is account:
            _active = None


def _moto_stubber() -> Any:
    from moto.core.models import botocore_stubber

    return botocore_stubber


def install() -> None:
    """Put the handlers into ``BUILTIN_HANDLERS`` (idempotent); sessions created later pick them up."""
    global _installed
    if _installed:
        return
    stubber = _moto_stubber()  # importing moto appends its stubber to BUILTIN_HANDLERS
    for i, entry in enumerate(BUILTIN_HANDLERS):
        if entry[0] == "before-send" and entry[1] is stubber:
            BUILTIN_HANDLERS[i] = ("before-send", before_send, *entry[2:])
            break
    else:
        BUILTIN_HANDLERS.append(("before-send", before_send))
    BUILTIN_HANDLERS.append(("before-parameter-build", before_parameter_build))
    BUILTIN_HANDLERS.append(("response-received", response_received))
    _installed = True


def has_hooks(botocore_session: Any) -> bool:
    """Whether a botocore session was created after :func:`install` (and so carries the handlers)."""
    try:
        return before_send in botocore_session._events._emitter._handlers.prefix_search("before-send.x.y")
    except AttributeError:
        try:
            return before_send in botocore_session._events._handlers.prefix_search("before-send.x.y")
        except AttributeError:
            return True  # cannot tell: leave the session alone


def refresh_default_session() -> None:
    """Drop boto3's default session if it predates :func:`install`, so ``boto3.client()`` gets the handlers."""
    import boto3

    if boto3.DEFAULT_SESSION is not None and not has_hooks(boto3.DEFAULT_SESSION._session):
        log.warning("boto3's default session predates cmk_guard_local.emulator; replacing it")
        boto3.DEFAULT_SESSION = None


# -- handlers -------------------------------------------------------------------------------------------------
# moto 5.2.5 looks these up by bare key id only; real KMS also takes the key ARN.
_MOTO_KEY_ID_ONLY = frozenset({"DisableKey", "EnableKey", "CancelKeyDeletion", "ScheduleKeyDeletion"})


def before_parameter_build(params: dict, model: OperationModel, context: dict, **_: Any) -> None:
    if _active is None:
        return
    service = model.service_model.service_name
    recorded = params
    key_id = str(params.get("KeyId", ""))
    if service == "kms" and model.name in _MOTO_KEY_ID_ONLY and key_id.startswith("arn:") and ":key/" in key_id:
        recorded = dict(params)
        params["KeyId"] = key_id.rsplit("/", 1)[-1]
    context[CONTEXT_KEY] = CallInfo(service, model, recorded)


# moto's DynamoDB is not safe under concurrent calls (a Query iterating a table while a PutItem adds a partition
# raises "dictionary changed size during iteration"); DynamoDB itself is. Its calls are served one at a time.
_SERIALIZED_MOTO_SERVICES = frozenset({"dynamodb"})
_moto_lock = threading.RLock()
# KMS creates an alias atomically (one caller wins, the others get AlreadyExistsException); moto 5.2.5 checks and
# then writes, so two threads can both "win". Alias changes are serialized to keep KMS's answer.
_ATOMIC = frozenset({("kms", "CreateAlias"), ("kms", "UpdateAlias"), ("kms", "DeleteAlias")})
_atomic_lock = threading.Lock()


def before_send(event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
    acct = _active
    info = (getattr(request, "context", None) or {}).get(CONTEXT_KEY) if acct is not None else None
    if acct is not None and info is not None:
        response = _serve(acct, info, request)
        if response is not None:
            return response
        if info.service in _SERIALIZED_MOTO_SERVICES:
            with _moto_lock:
                return _moto_stubber()(event_name=event_name, request=request, **kwargs)
        if (info.service, info.operation.name) in _ATOMIC:
            with _atomic_lock:
                return _moto_stubber()(event_name=event_name, request=request, **kwargs)
    return _moto_stubber()(event_name=event_name, request=request, **kwargs)


def response_received(parsed_response: dict | None, context: dict, response_dict: dict | None,
                      exception: BaseException | None = None, **_: Any) -> None:
    acct = _active
    info: CallInfo | None = (context or {}).get(CONTEXT_KEY)
    if acct is None or info is None or info.principal is None or parsed_response is None:
        return
    name = info.operation.name
    if (info.service == "cloudtrail" and name == "LookupEvents") or is_data_event(info.service, name):
        return
    status = (response_dict or {}).get("status_code", 200)
    err = parsed_response.get("Error") if status >= 300 else None
    request_id = (parsed_response.get("ResponseMetadata") or {}).get("RequestId") or info.request_id \
        or wire.new_request_id()
    record = api_call_record(
        principal=info.principal, operation=info.operation, service=info.service, region=info.region,
        account=info.account, params=info.params, parsed=None if err else parsed_response,
        error_code=err.get("Code") if err else None, error_message=err.get("Message") if err else None,
        request_id=request_id, user_agent=info.user_agent, when=datetime.now(timezone.utc),
    )
    acct.cloudtrail.record(record, account=info.account, region=info.region)


# -- dispatch -------------------------------------------------------------------------------------------------
def _serve(acct: EmulatedAccount, info: CallInfo, request: AWSPreparedRequest) -> AWSResponse | None:
    _resolve_caller(acct, info, request)
    assert info.principal is not None
    info.request_id = wire.new_request_id()
    service, name = info.service, info.operation.name
    rule = acct.faults.take(service, name, info.principal.arn, info.params)
    acct._log_call(service, name, info.principal.arn, rule.fault if rule else None)
    is_lookup = service == "cloudtrail" and name == "LookupEvents"
    if is_lookup:
        acct.cloudtrail.note_lookup_attempt()
    if rule is not None and rule.fault is Fault.LATENCY:
        time.sleep(rule.seconds)
    elif rule is not None:
        model = info.operation.service_model
        err = fault_error(rule.fault, service, name, model.resolved_protocol, info.principal.session_arn,
                          model.signing_name, rule.message)
        return wire.error(request, model, err, info.request_id)
    try:
        if service == "bedrock-agent":
            try:
                output = acct.bedrock.handle(info.operation, info.params, info.account, info.region)
            except NotImplementedError:
                raise EmulatorNotImplemented(
                    f"bedrock-agent {name} is not emulated by cmk_guard_local.emulator") from None
        elif is_lookup:
            output = acct.cloudtrail.lookup_events(info.params, info.account, info.region)
        elif service == "events" and name == "TestEventPattern":
            output = test_event_pattern(info.params)
        elif service == "kms" and name == "EnableKeyRotation":
            output = kms_rotation.enable_rotation(info.params, info.account, info.region)
        elif service == "kms" and name == "GetKeyRotationStatus":
            output = kms_rotation.rotation_status(info.params, info.account, info.region)
        elif service == "sts" and name == "GetCallerIdentity" and not info.from_sts_session:
            return _caller_identity(request, info)
        elif service == "sts" and name == "AssumeRole":
            refused = trust.refusal(info.principal, info.params, acct.organization_id)
            if refused is None:
                return None  # moto issues the credentials
            raise wire.ServiceError("AccessDenied", refused, 403)
        else:
            return None
    except wire.ServiceError as err:
        return wire.error(request, info.operation.service_model, err, info.request_id)
    return wire.success(request, info.operation, output, info.request_id)


def _resolve_caller(acct: EmulatedAccount, info: CallInfo, request: AWSPreparedRequest) -> None:
    """Account (as moto derives it), region and principal of the attempt."""
    auth = request.headers.get("Authorization", b"")
    auth = auth.decode() if isinstance(auth, bytes) else str(auth)
    m = _CREDENTIAL.search(auth)
    access_key, signing_region = (m.group(1), m.group(2)) if m else ("", "")
    info.account = _account_for(request, access_key)
    client_region = (getattr(request, "context", None) or {}).get("client_region")
    region = client_region if client_region and client_region != "aws-global" else signing_region
    info.region = region if region and region != "aws-global" else acct.region
    ua = request.headers.get("User-Agent", b"")
    info.user_agent = ua.decode() if isinstance(ua, bytes) else str(ua)
    info.principal, info.from_sts_session = _principal_for(access_key, info.account)


def _caller_identity(request: AWSPreparedRequest, info: CallInfo) -> AWSResponse:
    """``sts:GetCallerIdentity`` for an ``acting_as`` (or default) principal, which moto does not know about."""
    principal = info.principal
    assert principal is not None
    ident = user_identity(principal)
    arn = ident["arn"]
    result = (f"<Arn>{arn}</Arn><UserId>{ident['principalId']}</UserId><Account>{principal.account_id}</Account>")
    return wire.query_success(request, info.operation, result, info.request_id)


def _account_for(request: AWSPreparedRequest, access_key: str) -> str:
    """Same precedence as moto: MOTO_ACCOUNT_ID, the x-moto-account-id header, then the access key."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = request.headers.get("x-moto-account-id")
    if header:
        return header.decode() if isinstance(header, bytes) else str(header)
    if not access_key:
        return DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _principal_for(access_key: str, account: str) -> tuple[Principal, bool]:
    """moto STS session credentials → that role session; else ``acting_as``; else the account's default user.
    The flag tells whether the principal came from STS session credentials."""
    if access_key.startswith("ASIA"):
        try:
            from moto.sts.models import sts_backends

            session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
        except Exception:  # noqa: BLE001
            session = None
        if session is not None:
            return parse_principal(session.role_arn, session.session_name, access_key), True
    explicit = acting_principal()
    if explicit is not None:
        return explicit, False
    return parse_principal(default_principal_arn(account), access_key_id=access_key or None), False
