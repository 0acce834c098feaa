"""Which key a data source gets under each ``KeyStrategy``: an alias cmk-guard owns, or the configured key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cmk_guard.core.models import KeyStrategy, KnowledgeBaseFacts
from cmk_guard.errors import KeySelectionError

ALIAS_PREFIX = "alias/cmk-guard/"
MANAGED_TAG = "cmk-guard:managed"
SCOPE_TAG = "cmk-guard:scope"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class KeyScope:
    """The key to use. ``alias`` is set for keys cmk-guard creates; ``existing_key_arn`` for the ``existing`` strategy."""

    strategy: KeyStrategy
    scope: str
    alias: str | None = None
    existing_key_arn: str | None = None

    @property
    def description(self) -> str:
        return f"cmk-guard: transient ingestion data of Bedrock knowledge base data sources ({self.scope})"


def _slug(display: str, unique_by: str) -> str:
    """A readable, alias-safe name that stays unique: sanitised text plus a short hash of ``unique_by``."""
    digest = hashlib.sha256(unique_by.encode()).hexdigest()[:12]
    text = _UNSAFE.sub("-", display).strip("-")[:48] or "x"
    return f"{text}-{digest}"


def _per_knowledge_base(kb: KnowledgeBaseFacts) -> KeyScope:
    return KeyScope(
        KeyStrategy.PER_KNOWLEDGE_BASE,
        scope=f"knowledge-base:{kb.knowledge_base_id}",
        alias=f"{ALIAS_PREFIX}kb/{kb.knowledge_base_id}",
    )


def key_scope(
    strategy: KeyStrategy,
    kb: KnowledgeBaseFacts,
    group_tag_key: str,
    existing_key_arn: str | None,
) -> KeyScope:
    """The key scope for ``kb``. A knowledge base without the group tag gets a key of its own, never another group's."""
    if strategy is KeyStrategy.EXISTING:
        if not existing_key_arn:
            raise KeySelectionError("KeyStrategy is 'existing' but ExistingKeyArn is empty")
        return KeyScope(strategy, scope="existing", existing_key_arn=existing_key_arn)
    if strategy is KeyStrategy.PER_ROLE:
        role_name = kb.role_arn.rsplit("/", 1)[-1]
        return KeyScope(strategy, scope=f"role:{kb.role_arn}", alias=f"{ALIAS_PREFIX}role/{_slug(role_name, kb.role_arn)}")
    if strategy is KeyStrategy.PER_TAG:
        if not kb.tags_readable:
            raise KeySelectionError(f"tags of knowledge base {kb.knowledge_base_id} could not be read; no key group chosen")
        group = kb.tags.get(group_tag_key)
        if group is None or not group.strip():
            return _per_knowledge_base(kb)
        return KeyScope(strategy, scope=f"group:{group}", alias=f"{ALIAS_PREFIX}group/{_slug(group, group)}")
    return _per_knowledge_base(kb)
