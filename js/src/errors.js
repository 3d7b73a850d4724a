// Errors mirroring the WIT `session-error` variant (and python/agent_sessions/errors.py).

/** Base of every error a repository call throws. `kind` is the WIT case in
 * snake_case as the CLI's --json errors spell it, or `component`. */
export class SessionError extends Error {
  constructor(message, kind = 'session_error') {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
  }
}

/** The input breaks a session rule; the message says which and why. */
export class InvalidInputError extends SessionError {
  constructor(message) { super(message, 'invalid_input'); }
}

/** No live session has this id (never existed, deleted or expired). */
export class SessionNotFoundError extends SessionError {
  constructor(message) { super(message, 'not_found'); }
}

/** An expected version did not match; the message gives both. */
export class ConflictError extends SessionError {
  constructor(message) { super(message, 'conflict'); }
}

/** A stored value does not decode. `key` is the Redis key without the
 * prefix, `field` the hash field ("" when the key itself is wrong),
 * `detail` what is wrong with it, as the component put it. */
export class DataCorruptError extends SessionError {
  constructor(message, { sessionId = '', key = '', field = '', detail = '' } = {}) {
    super(message, 'data_corrupt');
    this.sessionId = sessionId;
    this.key = key;
    this.field = field;
    this.detail = detail || message;
  }
}

/** Storage failed. `storageKind`: `unavailable`, `timeout`, `wrong_type`,
 * `invalid_batch` or `other` (the WIT storage-error-kind in snake_case). */
export class BackendError extends SessionError {
  constructor(message, storageKind = 'other') {
    super(message, 'backend');
    this.storageKind = storageKind;
  }
}

/** The component trapped, ran out of its memory limit or its time limit.
 * The instance is discarded; the next call gets a fresh one. */
export class ComponentError extends SessionError {
  constructor(message) { super(message, 'component'); }
}

/** A WIT storage-failure (`kind`: unavailable, timeout, other), as the kv
 * glue hands it to the guest; never thrown out of the package. */
export class StorageFailure extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** The error for a WIT `session-error` value `{tag, val}`, worded as the
 * Python host words it. */
export function sessionError(error) {
  const { tag, val } = error ?? {};
  switch (tag) {
    case 'invalid-input': return new InvalidInputError(String(val));
    case 'not-found': return new SessionNotFoundError(`session ${val} not found`);
    case 'conflict': return new ConflictError(String(val));
    case 'data-corrupt': {
      let c;
      try { c = JSON.parse(val); } catch { c = null; }
      if (c === null || typeof c !== 'object') {
        return new DataCorruptError(`corrupt data: ${val}`, { detail: String(val) });
      }
      const where = c.field ? `${c.key} field ${c.field}` : c.key;
      return new DataCorruptError(`session ${c.session_id}: corrupt data in ${where}: ${c.message}`, {
        sessionId: c.session_id, key: c.key, field: c.field, detail: c.message,
      });
    }
    case 'backend':
      return new BackendError(String(val?.message ?? val), String(val?.kind ?? 'other').replaceAll('-', '_'));
    default:
      return new SessionError(`${tag}: ${JSON.stringify(val)}`);
  }
}
