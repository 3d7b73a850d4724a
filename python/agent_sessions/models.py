"""The design document's session types, as dataclasses with its field names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

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
    #: The owner, for frameworks that scope sessions by app and user: both
    #: or neither, never changed afterwards.
    app_name: str | None = None
    user_id: str | None = None
    #: Initial state (JSON values by key): `app:` and `user:` keys go to the
    #: owner's shared state, `temp:` keys are dropped.
    state: dict[str, Any] | None = None


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
    #: The owner, for sessions created with one.
    app_name: str | None = None
    user_id: str | None = None


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
    #: Conversation items of live sessions: in all, sessions with any, the
    #: most one session holds and which.
    items: int = 0
    sessions_with_items: int = 0
    max_items: int = 0
    max_items_session_id: str | None = None
    #: Live sessions with an owner (app_name, user_id).
    owned_sessions: int = 0


class Owner(NamedTuple):
    """Who a session belongs to: an app's user (Google ADK's scoping). A
    session with an owner is only found by calls that name it (or none)."""

    app_name: str
    user_id: str


@dataclass
class ItemsReceipt:
    """What `append_items` and `clear_items` did."""

    id: str
    #: The session's version afterwards.
    version: int
    #: Items the session holds afterwards.
    count: int
    updated_at: str
    updated_at_ms: int
    #: Whether `create_if_missing` created the session.
    created: bool = False


@dataclass
class ItemsPage:
    """Items of one session, oldest first."""

    id: str
    items: list[Any]
    #: Items the session holds.
    total: int
    #: Position of `items[0]` in the whole list (0 is the oldest).
    first_index: int
    #: Items of the asked range left out (the oldest) to stay within one
    #: read's limits (1000 items, 4 MiB).
    left_out: int
    version: int
    updated_at_ms: int


@dataclass
class PoppedItem:
    """What `pop_item` removed: the newest item, or None when there was none."""

    id: str
    item: Any
    version: int
    #: Items left.
    count: int


@dataclass
class Conversation:
    """A session with its state and items (`get_conversation`)."""

    session: SessionDetail
    #: The session's state, with its app's and user's under `app:` and `user:`.
    state: dict[str, Any]
    items: list[Any]
    total: int
    first_index: int
    version: int
    updated_at_ms: int


@dataclass
class OwnedSession:
    """One session of `list_sessions_by_owner`: no configuration, no items."""

    id: str
    app_name: str
    user_id: str
    created_at: str
    updated_at: str
    updated_at_ms: int
    version: int
    #: The session's own state (without its app's and user's).
    state: dict[str, Any]


@dataclass
class OwnerPage:
    """One page of `list_sessions_by_owner`, newest-updated first."""

    sessions: list[OwnedSession]
    #: The app's shared state (keys without `app:`).
    app_state: dict[str, Any]
    #: Each listed user's shared state (keys without `user:`).
    user_states: dict[str, dict[str, Any]]
    corrupt: list[Corruption]
    #: Pass to the next call; None on the last page.
    next_page_token: str | None = None
