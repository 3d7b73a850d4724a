"""Exceptions mirroring the WIT `session-error` variant, plus host failures."""

from __future__ import annotations


class SessionError(Exception):
    """Base of every error this package raises for a repository call."""

    #: The WIT `session-error` case this exception stands for, in snake_case
    #: as the CLI's `--json` errors spell it (`invalid_input`, `not_found`,
    #: `conflict`, `data_corrupt`, `backend`), or `component`.
    kind: str = "session_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(SessionError, ValueError):
    """The input breaks a session rule; the message says which and why."""

    kind = "invalid_input"


class SessionNotFoundError(SessionError, LookupError):
    """No live session has this id (never existed, deleted or expired)."""

    kind = "not_found"


class ConflictError(SessionError):
    """An expected version did not match; the message gives both."""

    kind = "conflict"


class DataCorruptError(SessionError):
    """A stored value does not decode. `key` is the Redis key without the
    prefix, `field` the hash field ("" when the key itself is wrong)."""

    kind = "data_corrupt"

    def __init__(self, message: str, *, session_id: str, key: str, field: str, detail: str = "") -> None:
        super().__init__(message)
        self.session_id = session_id
        self.key = key
        self.field = field
        #: What is wrong with the value, as the component put it.
        self.detail = detail or message


class BackendError(SessionError):
    """Storage failed: Redis unreachable, timed out, or refused the batch.
    `storage_kind` says how (the WIT storage-error-kind in snake_case):
    `unavailable`, `timeout`, `wrong_type`, `invalid_batch` or `other`."""

    kind = "backend"

    def __init__(self, message: str, *, storage_kind: str = "other") -> None:
        super().__init__(message)
        self.storage_kind = storage_kind


class NotReplicatedError(BackendError):
    """With `wait_replicas=N`: the write was applied on the Redis primary,
    but fewer than N replicas confirmed it within `wait_timeout`. It stands
    (do not blindly retry a create), but may be lost if the primary fails
    before its replicas catch up. `storage_kind` is `not_replicated`."""


class ComponentError(SessionError):
    """The component trapped or exceeded its memory or time limit. The
    repository discards that instance; the next call gets a fresh one."""

    kind = "component"
