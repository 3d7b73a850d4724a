"""Exceptions mirroring the WIT `session-error` variant, plus host failures."""

from __future__ import annotations


class SessionError(Exception):
    """Base of every error this package raises for a repository call."""

    #: The WIT `session-error` case this exception stands for.
    kind: str = "session-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(SessionError, ValueError):
    """The input breaks a session rule; the message says which and why."""

    kind = "invalid-input"


class SessionNotFoundError(SessionError, LookupError):
    """No live session has this id (never existed, deleted or expired)."""

    kind = "not-found"


class ConflictError(SessionError):
    """An expected version did not match; the message gives both."""

    kind = "conflict"


class DataCorruptError(SessionError):
    """A stored value does not decode. `key` is the Redis key without the
    prefix, `field` the hash field ("" when the key itself is wrong)."""

    kind = "data-corrupt"

    def __init__(self, message: str, *, session_id: str, key: str, field: str, detail: str = "") -> None:
        super().__init__(message)
        self.session_id = session_id
        self.key = key
        self.field = field
        #: What is wrong with the value, as the component put it.
        self.detail = detail or message


class BackendError(SessionError):
    """Redis failed: unreachable, timed out, or refused the batch."""

    kind = "backend"


class ComponentError(SessionError):
    """The component trapped or exceeded its memory or time limit. The
    repository discards that instance; the next call gets a fresh one."""

    kind = "component"
