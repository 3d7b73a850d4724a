//! The Redis key layout: one place for every key name.
//!
//! Names follow the design document exactly, so services that already read
//! these keys keep working. The host adds its prefix (default empty) in front
//! of every key; the guest never sees or chooses it.

use crate::id::SessionId;

/// Set of the ids of every live session (the document's "active sessions").
pub const ACTIVE_SESSIONS: &str = "active_sessions";

/// Sorted set of session ids scored by creation time in milliseconds: the
/// index that makes `list` cost O(log N + page) instead of O(N). An addition
/// to the document's layout, maintained in the same atomic batches.
pub const SESSION_INDEX: &str = "session_index";

/// Hash `{holder}` with a TTL: who runs scheduled cleanup now, so that of
/// several `sessions serve` replicas one sweeps per interval. Ours.
pub const CLEANUP_LEASE: &str = "cleanup_lease";

/// Hash of the nine data fields.
pub fn data(id: &SessionId) -> String {
    format!("session:{id}:data")
}

/// Hash of timestamps, status and bookkeeping fields.
pub fn meta(id: &SessionId) -> String {
    format!("session:{id}:meta")
}

/// String holding "" whose TTL is the session's lifetime: a session is alive
/// exactly while this key exists.
pub fn expiry(id: &SessionId) -> String {
    format!("session_expiry:{id}")
}

/// Which of a session's keys a key name is, for scans of the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyKind {
    Data,
    Meta,
    Expiry,
}

/// A SCAN pattern matching every per-session key (and `session_index`,
/// which [`parse_session_key`] rejects).
pub const SESSION_KEYS_PATTERN: &str = "session*";

/// The session id and kind of a per-session key name, if it is one.
pub fn parse_session_key(key: &str) -> Option<(SessionId, SessionKeyKind)> {
    if let Some(id) = key.strip_prefix("session_expiry:") {
        return SessionId::parse(id).ok().map(|id| (id, SessionKeyKind::Expiry));
    }
    let rest = key.strip_prefix("session:")?;
    let (id, kind) = if let Some(id) = rest.strip_suffix(":data") {
        (id, SessionKeyKind::Data)
    } else {
        (rest.strip_suffix(":meta")?, SessionKeyKind::Meta)
    };
    SessionId::parse(id).ok().map(|id| (id, kind))
}

/// The keys of one session, built once per operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub data: String,
    pub meta: String,
    pub expiry: String,
}

impl SessionKeys {
    pub fn new(id: &SessionId) -> Self {
        Self { data: data(id), meta: meta(id), expiry: expiry(id) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_design_document() {
        let id = SessionId::parse("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10").unwrap();
        let keys = SessionKeys::new(&id);
        assert_eq!(keys.data, "session:0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10:data");
        assert_eq!(keys.meta, "session:0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10:meta");
        assert_eq!(keys.expiry, "session_expiry:0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10");
        assert_eq!(ACTIVE_SESSIONS, "active_sessions");
    }
}
