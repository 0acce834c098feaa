"""key: select or create the customer-managed key for the data source, and let the knowledge base role use it."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Protocol

from cmk_guard.adapters.ledger import key_scope_key
from cmk_guard.concurrency import at_once
from cmk_guard.core import key_policy
from cmk_guard.core.key_scope import MANAGED_TAG, SCOPE_TAG, KeyScope, key_scope
from cmk_guard.errors import CmkGuardError, KeyPolicyError, KeyUnavailableError, TransientError

POLICY_WRITE_ATTEMPTS = 5
# How long a claim to create a scope's key holds if its holder dies before releasing it. Creating the key and its
# alias takes seconds; the state machine retries a waiting workflow for about two minutes.
SCOPE_CLAIM_TTL_SECONDS = 60


class KeyScopeClaims(Protocol):
    """One creator per key scope at a time (the ledger)."""

    def claim_key_scope(self, scope_key: str, execution_arn: str, ttl_seconds: int) -> bool: ...

    def release_key_scope(self, scope_key: str, execution_arn: str) -> None: ...

if TYPE_CHECKING:
    from cmk_guard.adapters.kms import Kms
    from cmk_guard.config import Settings
    from cmk_guard.core.models import KeyFacts, KnowledgeBaseFacts, Target


def _usable(facts: KeyFacts | None, what: str) -> KeyFacts:
    if facts is None:
        raise KeyUnavailableError(f"{what} does not exist")
    if facts.key_manager != "CUSTOMER" or facts.key_state != "Enabled" or facts.key_spec != "SYMMETRIC_DEFAULT":
        raise KeyUnavailableError(
            f"{what} ({facts.arn}) is {facts.key_state}/{facts.key_manager}/{facts.key_spec}; "
            "re-enable it or remove the alias so cmk-guard can create a new key"
        )
    return facts


def ensure_key_user(kms: Kms, key_arn: str, role_arn: str, region: str, via_service: bool) -> tuple[bool, set[str]]:
    """Add the role to the key's use statement unless it is there already: (policy changed?, the key's users).

    Key policies have no conditional write, so two workflows extending one shared key can overwrite each other.
    Each writer re-reads after writing and adds itself again if it was lost; the writers converge.
    """
    changed = False
    for attempt in range(POLICY_WRITE_ATTEMPTS):
        policy = key_policy.parse_policy(kms.get_policy(key_arn))
        updated, needed = key_policy.with_key_user(policy, role_arn, region=region, via_service_condition=via_service)
        if not needed:
            return changed, key_policy.key_users(updated)
        if attempt:
            time.sleep(random.uniform(0.05, 0.5) * attempt)
        kms.put_policy(key_arn, key_policy.render(updated))
        changed = True
    raise KeyPolicyError(f"role {role_arn} kept disappearing from the policy of {key_arn}: concurrent writers")


def _create(kms: Kms, scope: KeyScope, target: Target, kb: KnowledgeBaseFacts, settings: Settings) -> tuple[str, bool]:
    """Create a key and claim the alias. If another workflow won the alias, retire ours and use theirs."""
    assert scope.alias is not None
    policy = key_policy.build_key_policy(
        admins=settings.admins_for(target.account_id),
        manager_role_arn=settings.key_manager_role_arn,
        inspector_role_arns=settings.key_inspector_role_arns,
        key_user_role_arns=[kb.role_arn],
        region=target.region,
        via_service_condition=settings.key_use_via_service_condition,
    )
    key_arn = kms.create_key(
        policy=key_policy.render(policy),
        description=scope.description,
        tags={MANAGED_TAG: "true", SCOPE_TAG: scope.scope[:256]},
    )
    try:
        won = kms.create_alias(scope.alias, key_arn)
    except Exception:
        kms.schedule_deletion(key_arn)
        raise
    if won:
        return key_arn, True
    kms.schedule_deletion(key_arn)
    winner = _usable(kms.describe_key(scope.alias), f"key behind {scope.alias}")
    return winner.arn, False


def _create_claimed(
    kms: Kms,
    scope: KeyScope,
    target: Target,
    kb: KnowledgeBaseFacts,
    settings: Settings,
    claims: KeyScopeClaims,
    execution_arn: str,
) -> tuple[str, bool]:
    """Create the scope's key only while holding its claim, so workflows that need one new key at once make one.

    A workflow that finds the claim taken raises ``TransientError``: the state machine retries it, and by then the
    alias leads to the key the holder made. The holder looks again after claiming, in case that already happened.
    """
    assert scope.alias is not None
    scope_id = key_scope_key(target.account_id, target.region, scope.alias)
    if not claims.claim_key_scope(scope_id, execution_arn, SCOPE_CLAIM_TTL_SECONDS):
        raise TransientError(f"another workflow is creating the key behind {scope.alias}; this one will use it")
    try:
        existing = kms.describe_key(scope.alias)
        if existing is not None:
            return _usable(existing, f"key behind {scope.alias}").arn, False
        return _create(kms, scope, target, kb, settings)
    finally:
        try:
            claims.release_key_scope(scope_id, execution_arn)
        except CmkGuardError:
            pass  # the claim expires on its own; failing here would fail a step whose key is already made


def run_key(
    target: Target,
    kb: KnowledgeBaseFacts,
    settings: Settings,
    kms: Kms,
    claims: KeyScopeClaims | None = None,
    execution_arn: str = "",
) -> dict[str, Any]:
    """Select or create the key. With ``claims``, a new key is created under a per-scope claim (one creator);
    without, concurrent creators race for the alias and the losers schedule their keys for deletion."""
    scope = key_scope(settings.key_strategy, kb, settings.key_group_tag_key, settings.existing_key_arn or None)
    created = False
    if scope.existing_key_arn:
        key_arn = _usable(kms.describe_key(scope.existing_key_arn), f"ExistingKeyArn {scope.existing_key_arn}").arn
    else:
        assert scope.alias is not None
        existing = kms.describe_key(scope.alias)
        if existing is None and claims is not None:
            key_arn, created = _create_claimed(kms, scope, target, kb, settings, claims, execution_arn)
        elif existing is None:
            key_arn, created = _create(kms, scope, target, kb, settings)
        else:
            key_arn = _usable(existing, f"key behind {scope.alias}").arn

    def key_users() -> tuple[bool, set[str]]:
        if created:  # its policy was written with the role in it
            return False, {kb.role_arn}
        return ensure_key_user(kms, key_arn, kb.role_arn, target.region, settings.key_use_via_service_condition)

    def rotation_period() -> int | None:
        # The configured key of 'existing' is its owner's to rotate; a key made just now has rotation off.
        return kms.rotation_period(key_arn) if scope.alias is not None and not created else None

    # The policy and the rotation of a key are independent: read (and the policy extended) at once.
    policy_read, rotation_read = at_once(key_users, rotation_period)
    policy_changed, users = policy_read.result()
    rotation = rotation_read.result()
    if scope.alias is not None and rotation is None:
        kms.enable_rotation(key_arn, settings.key_rotation_period_days)
        rotation = settings.key_rotation_period_days
    result: dict[str, Any] = {
        "keyArn": key_arn,
        "strategy": scope.strategy.value,
        "scope": scope.scope,
        "created": created,
        "policyChanged": policy_changed,
        "keyUsers": sorted(users),
    }
    if scope.alias:
        result["alias"] = scope.alias
    if rotation:
        result["rotationPeriodDays"] = rotation
    return result


def run_repair(target: Target, kb: KnowledgeBaseFacts, key_arn: str, settings: Settings, kms: Kms) -> dict[str, Any]:
    """After an ingestion failed on the key: put the knowledge base role back into the key's use statement if it
    is missing there (someone edited the policy cmk-guard wrote). Nothing else is changed: a disabled key is not
    re-enabled, a deliberate ``Deny`` is not removed; those failures are reported instead."""
    facts = kms.describe_key(key_arn)
    if facts is None or facts.key_state != "Enabled":
        state = facts.key_state if facts else "gone"
        cause = f"the key is {state}; cmk-guard does not re-enable or replace it"
        return {"repaired": False, "keyArn": key_arn, "cause": cause}
    policy = key_policy.parse_policy(kms.get_policy(key_arn))
    if kb.role_arn in key_policy.key_users(policy):
        return {
            "repaired": False,
            "keyArn": key_arn,
            "cause": "the key policy still lets the knowledge base role use the key; the failure has another cause",
        }
    _, users = ensure_key_user(kms, key_arn, kb.role_arn, target.region, settings.key_use_via_service_condition)
    return {
        "repaired": True,
        "keyArn": key_arn,
        "keyUsers": sorted(users),
        "cause": f"{kb.role_arn} was missing from the key policy's use statement; put back",
    }
