"""Typed errors. The state machine retries ``TransientError`` and routes every other error to a FAILED record.

Step Functions sees the exception class name as the error name, so these names are part of the ASL contract.
"""

from __future__ import annotations


class CmkGuardError(Exception):
    """Base of every error cmk-guard raises on purpose."""


class TransientError(CmkGuardError):
    """Throttling or a service fault that outlived the SDK's own retries: worth retrying later."""


class InvalidEventError(CmkGuardError):
    """The triggering event is malformed or not one cmk-guard handles. Never retried."""


class ResourceGoneError(CmkGuardError):
    """The data source or knowledge base no longer exists."""


class AccessDeniedError(CmkGuardError):
    """cmk-guard's own role was refused a call it needs."""


class KeyPolicyError(CmkGuardError):
    """A key policy could not be read, parsed or extended within the limits."""


class UnsafeUpdateError(CmkGuardError):
    """The update would drop or change something other than the key, so nothing was written."""


class KeyUnavailableError(CmkGuardError):
    """A key cmk-guard would use is not usable (disabled, pending deletion, wrong kind)."""


class KeySelectionError(CmkGuardError):
    """No key can be chosen safely for the configured strategy (for example an unreadable key-group tag)."""


class InvalidRequestError(CmkGuardError):
    """The SDK refused a request cmk-guard built (a parameter the API model does not accept)."""


class ConcurrentChangeError(CmkGuardError):
    """The data source changed between the check and the update; nothing was overwritten."""


class ConflictError(CmkGuardError):
    """AWS refused a call because the resource is busy or changing elsewhere (for example ``ConflictException``)."""


class IngestionBusyError(CmkGuardError):
    """Another ingestion job of the data source is running; cmk-guard's own job starts after it (retried)."""
