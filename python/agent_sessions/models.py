"""The design document's session types, as dataclasses with its field names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Fields `SessionUpdate.clear` can reset to absent.
ClearableField = Literal[
    "persona_id",
    "name",
    "temperature",
    "reasoning_effort",
    "max_tokens",
    "tools",
    "custom_prompt",
    "agent_internal_id",
]

#: `running`, `idle`, `paused` are active; `completed`, `failed`, `cancelled` are not.
SessionStatus = Literal["running", "idle", "paused", "completed", "failed", "cancelled"]


@dataclass
class SessionCreate:
    """Input of `create_session`. Only `model_id` is required; empty strings
    mean absent. The rules are the component's (see README, "Rules")."""

    model_id: str
    persona_id: str | None = None
    name: str | None = None
    temperature: float | None = None
    reasoning_effort: int | None = None
    max_tokens: int | None = None
    tools: list[str] = field(default_factory=list)
    custom_prompt: str | None = None
    agent_internal_id: str | None = None
    status: str | None = None


@dataclass
class SessionUpdate:
    """Input of `update_session`: only the fields that are not None change.

    `clear` resets fields to absent. `expected_version` makes the update a
    compare-and-set that raises `ConflictError` unless the stored version
    matches (0 matches a session another service wrote)."""

    model_id: str | None = None
    persona_id: str | None = None
    name: str | None = None
    temperature: float | None = None
    reasoning_effort: int | None = None
    max_tokens: int | None = None
    tools: list[str] | None = None
    custom_prompt: str | None = None
    agent_internal_id: str | None = None
    status: str | None = None
    clear: list[ClearableField] = field(default_factory=list)
    expected_version: int | None = None


@dataclass
class SessionDetail:
    """A stored session: the nine data fields, the meta fields, and bookkeeping."""

    id: str
    model_id: str
    persona_id: str | None
    name: str | None
    temperature: float | None
    reasoning_effort: int | None
    max_tokens: int | None
    tools: list[str]
    custom_prompt: str | None
    agent_internal_id: str | None
    #: UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    created_at: str
    updated_at: str
    last_activity: str
    is_active: bool
    status: str
    #: Bumped by every update; 0 for a session another service wrote.
    version: int
    #: Seconds until the session expires; None if its expiry key has no TTL.
    expires_in_seconds: int | None


@dataclass
class Corruption:
    """A stored value that does not decode."""

    session_id: str
    #: The Redis key, without the prefix.
    key: str
    #: The hash field, or "" when the key itself is wrong (missing, wrong type).
    field: str
    message: str


@dataclass
class SessionListResponse:
    """One page of `list_sessions`, newest first by `created_at`."""

    sessions: list[SessionDetail]
    #: Sessions in the index, including those on later pages.
    total: int
    limit: int
    offset: int
    #: Sessions of this page that could not be decoded; the rest is returned.
    corrupt: list[Corruption]
    #: Pass as `page_token` for the page after this one (stable while
    #: sessions are added or removed); None after the last page.
    next_page_token: str | None = None


@dataclass
class CleanupReport:
    """What `cleanup_expired_sessions_report` did."""

    #: Expired sessions whose leftovers this call removed.
    removed: int
    #: Entries it could not judge and left in place.
    skipped: int
    #: The first of those (at most 100), each naming key and member.
    problems: list[Corruption]


@dataclass
class TtlBucket:
    """Live sessions whose remaining TTL is at most `up_to_seconds` (and
    more than the previous bucket's); None: longer than every bound."""

    up_to_seconds: int | None
    count: int


@dataclass
class SessionStats:
    """What `stats` found: counts for monitoring, and inconsistencies."""

    #: Live sessions (in `active_sessions`, expiry key present).
    sessions: int
    active: int
    inactive: int
    #: Live sessions by status.
    by_status: dict[str, int]
    ttl_buckets: list[TtlBucket]
    #: The oldest and newest live session by created_at, and when.
    oldest_session_id: str | None
    oldest_created_at: str | None
    newest_session_id: str | None
    newest_created_at: str | None
    #: Members whose expiry key is gone but whose hashes remain.
    expired_awaiting_cleanup: int
    members_without_keys: int
    keys_without_members: int
    keys_without_ttl: int
    #: Sizes of `active_sessions` and the list index at the start.
    set_size: int
    index_size: int
    #: The first 100 inconsistencies.
    problems: list[Corruption]
