"""Emulated AWS account for cmk-guard: moto plus bedrock-agent data sources and ingestion jobs, CloudTrail
``LookupEvents``, fault injection and a call log, all at the botocore layer so production boto3 code runs
unchanged.

Import this package before creating any boto3/botocore session: it installs its botocore handlers then.
"""

from __future__ import annotations

from . import hooks as _hooks
from .account import Call, EmulatedAccount
from .faults import Fault, FaultInjector, FaultRule
from .hooks import EmulatorNotImplemented
from .identity import acting_as, current_principal

_hooks.install()

__all__ = [
    "Call",
    "EmulatedAccount",
    "EmulatorNotImplemented",
    "Fault",
    "FaultInjector",
    "FaultRule",
    "acting_as",
    "current_principal",
]
