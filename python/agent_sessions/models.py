"""The session types, with the design document's field names.

The documents (`SessionCreate`, `SessionUpdate`, `SessionDetail`, the pages,
reports and receipts) are generated from schema/sessions.schema.json into
`_documents.py` (python/scripts/gen_models.py); this module adds only what
is not a schema document.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Self

from ._documents import (
    CleanupReport,
    ClearableField,
    Corruption,
    ItemsPage,
    ItemsReceipt,
    OwnedSession,
    Owner,
    OwnerPage,
    PoppedItem,
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionStats,
    SessionUpdate,
    Timestamp,
    TtlBucket,
)

__all__ = [
    "ClearableField",
    "CleanupReport",
    "Conversation",
    "Corruption",
    "ItemsPage",
    "ItemsReceipt",
    "OwnedSession",
    "Owner",
    "OwnerPage",
    "PoppedItem",
    "SessionCreate",
    "SessionDetail",
    "SessionListResponse",
    "SessionStats",
    "SessionStatus",
    "SessionUpdate",
    "Timestamp",
    "TtlBucket",
]

#: `running`, `idle`, `paused` are active; `completed`, `failed`, `cancelled` are not.
SessionStatus = Literal["running", "idle", "paused", "completed", "failed", "cancelled"]


@dataclasses.dataclass
class Conversation:
    """A session with its state and items (`get_conversation`): an items
    page read with `include_session`, every item asked for read."""

    session: SessionDetail
    #: The session's state, with its app's and user's under `app:` and `user:`.
    state: dict[str, Any]
    items: list[Any]
    total: int
    first_index: int
    version: int
    updated_at_ms: int

    @classmethod
    def from_dict(cls, page: dict[str, Any]) -> Self:
        return cls(
            session=SessionDetail.from_dict(page["session"]),
            state=page["state"],
            items=page["items"],
            total=page["total"],
            first_index=page["first_index"],
            version=page["version"],
            updated_at_ms=page["updated_at_ms"],
        )
