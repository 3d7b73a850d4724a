//! The Redis key layout: one place for every key name.
//!
//! Names follow the design document exactly, so services that already read
//! these keys keep working. The host adds its prefix (default empty) in front
//! of every key; the guest never sees or chooses it.

use crate::conversation::Owner;
use crate::id::SessionId;

/// Set of the ids of every live session (the document's "active sessions").
pub const ACTIVE_SESSIONS: &str = "active_sessions";

/// Sorted set of session ids scored by creation time in milliseconds: the
/// index that makes `list` cost O(log N + page) instead of O(N). An addition
/// to the document's layout, maintained in the same atomic batches.
pub const SESSION_INDEX: &str = "session_index";

/// Hash `{shards}`: the key layout this Redis (and prefix) was set up
/// with, recorded by the first host of the sharded layout. Ours.
pub const SESSION_LAYOUT: &str = "session_layout";

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

/// How the keys are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The design document's: one `active_sessions` set and one
    /// `session_index` for every session.
    #[default]
    Document,
    /// `shards` groups (see [`crate::shard`]), each with its hash tag on its
    /// set, its index and every key of its sessions, so that a session's
    /// batch touches one Redis Cluster slot: `session:{s17}:<id>:data`,
    /// `session:{s17}:<id>:meta`, `session_expiry:{s17}:<id>`,
    /// `active_sessions:{s17}`, `session_index:{s17}`.
    Sharded { shards: u32 },
}

impl Layout {
    /// Every key of session `id`, with the set and index of its group.
    pub fn session_keys(&self, id: &SessionId) -> SessionKeys {
        match self {
            Layout::Document => SessionKeys {
                data: data(id),
                meta: meta(id),
                items: format!("session:{id}:items"),
                state: format!("session:{id}:state"),
                expiry: expiry(id),
                active: ACTIVE_SESSIONS.to_owned(),
                index: SESSION_INDEX.to_owned(),
            },
            Layout::Sharded { shards } => {
                let tag = crate::shard::tag(crate::shard::shard_of(id, *shards));
                SessionKeys {
                    data: format!("session:{tag}:{id}:data"),
                    meta: format!("session:{tag}:{id}:meta"),
                    items: format!("session:{tag}:{id}:items"),
                    state: format!("session:{tag}:{id}:state"),
                    expiry: format!("session_expiry:{tag}:{id}"),
                    active: format!("{ACTIVE_SESSIONS}:{tag}"),
                    index: format!("{SESSION_INDEX}:{tag}"),
                }
            }
        }
    }

    /// The group (index into [`groups`](Self::groups)) of session `id`.
    pub fn group_of(&self, id: &SessionId) -> usize {
        match self {
            Layout::Document => 0,
            Layout::Sharded { shards } => crate::shard::shard_of(id, *shards) as usize,
        }
    }

    /// A SCAN pattern matching the per-session keys of group `group`
    /// (and, in the document's layout, `session_index`, which
    /// [`parse_session_key`] rejects).
    pub fn key_pattern(&self, group: usize) -> String {
        match self {
            Layout::Document => SESSION_KEYS_PATTERN.to_owned(),
            Layout::Sharded { .. } => format!("session*:{}:*", crate::shard::tag(group as u32)),
        }
    }

    /// The set and index of every group, in shard order (one group in the
    /// document's layout).
    pub fn groups(&self) -> Vec<GroupKeys> {
        match self {
            Layout::Document => vec![GroupKeys { active: ACTIVE_SESSIONS.to_owned(), index: SESSION_INDEX.to_owned() }],
            Layout::Sharded { shards } => (0..*shards)
                .map(|shard| {
                    let tag = crate::shard::tag(shard);
                    GroupKeys { active: format!("{ACTIVE_SESSIONS}:{tag}"), index: format!("{SESSION_INDEX}:{tag}") }
                })
                .collect(),
        }
    }
}

/// The owner indexes a session of `owner` is in: sorted sets of session ids
/// scored by `updated_at` in milliseconds, in the session's own group (its
/// slot, in the sharded layout), so that they change in the session's
/// atomic batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerKeys {
    /// `owner_index:<app>:<user>`: the sessions of one user of an app.
    pub user_index: String,
    /// `app_index:<app>`: the sessions of every user of an app.
    pub app_index: String,
}

impl Layout {
    /// The owner indexes of session `id` of `owner`.
    pub fn owner_keys(&self, id: &SessionId, owner: &Owner) -> OwnerKeys {
        let group = self.group_of(id);
        OwnerKeys {
            user_index: self.user_index(group, &owner.app_name, &owner.user_id),
            app_index: self.app_index(group, &owner.app_name),
        }
    }

    /// Group `group`'s index of the sessions of `user` of `app`.
    pub fn user_index(&self, group: usize, app: &str, user: &str) -> String {
        let (app, user) = (key_part(app), key_part(user));
        match self {
            Layout::Document => format!("{OWNER_INDEX}:{app}:{user}"),
            Layout::Sharded { .. } => format!("{OWNER_INDEX}:{}:{app}:{user}", crate::shard::tag(group as u32)),
        }
    }

    /// Group `group`'s index of the sessions of every user of `app`.
    pub fn app_index(&self, group: usize, app: &str) -> String {
        let app = key_part(app);
        match self {
            Layout::Document => format!("{APP_INDEX}:{app}"),
            Layout::Sharded { .. } => format!("{APP_INDEX}:{}:{app}", crate::shard::tag(group as u32)),
        }
    }

    /// Hash of `app`'s state (ADK `app:` keys, without the prefix); in the
    /// sharded layout in a slot of its own.
    pub fn app_state(&self, app: &str) -> String {
        let app = key_part(app);
        match self {
            Layout::Document => format!("{APP_STATE}:{app}"),
            Layout::Sharded { .. } => format!("{APP_STATE}:{{app:{app}}}"),
        }
    }

    /// Hash of the state of `user` of `app` (ADK `user:` keys).
    pub fn user_state(&self, app: &str, user: &str) -> String {
        let (app, user) = (key_part(app), key_part(user));
        match self {
            Layout::Document => format!("{USER_STATE}:{app}:{user}"),
            Layout::Sharded { .. } => format!("{USER_STATE}:{{user:{app}:{user}}}"),
        }
    }
}

pub const OWNER_INDEX: &str = "owner_index";
pub const APP_INDEX: &str = "app_index";
pub const APP_STATE: &str = "app_state";
pub const USER_STATE: &str = "user_state";

/// An app name or user id as one segment of a key name: every byte outside
/// `[A-Za-z0-9._-]` as `%XX`. One-to-one, and never holds `:`, `{`, `}` or a
/// glob character, so a name cannot end a segment, open a hash tag or act as
/// a pattern.
pub fn key_part(text: &str) -> String {
    let mut part = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            part.push(byte as char);
        } else {
            part.push_str(&format!("%{byte:02X}"));
        }
    }
    part
}

/// The set and index of one group of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKeys {
    pub active: String,
    pub index: String,
}

/// Which of a session's keys a key name is, for scans of the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyKind {
    Data,
    Meta,
    Expiry,
    Items,
    State,
}

/// A SCAN pattern matching every per-session key (and `session_index`,
/// which [`parse_session_key`] rejects).
pub const SESSION_KEYS_PATTERN: &str = "session*";

/// The session id and kind of a per-session key name, if it is one, in
/// either layout (a sharded name carries its `{s<k>}` tag after the colon).
pub fn parse_session_key(key: &str) -> Option<(SessionId, SessionKeyKind)> {
    if let Some(id) = key.strip_prefix("session_expiry:") {
        return SessionId::parse(without_tag(id)).ok().map(|id| (id, SessionKeyKind::Expiry));
    }
    let rest = without_tag(key.strip_prefix("session:")?);
    let (id, kind) = [
        (":data", SessionKeyKind::Data),
        (":meta", SessionKeyKind::Meta),
        (":items", SessionKeyKind::Items),
        (":state", SessionKeyKind::State),
    ]
    .into_iter()
    .find_map(|(suffix, kind)| rest.strip_suffix(suffix).map(|id| (id, kind)))?;
    SessionId::parse(id).ok().map(|id| (id, kind))
}

/// `rest` without a leading `{s<k>}:` shard tag.
fn without_tag(rest: &str) -> &str {
    match rest.strip_prefix("{s").and_then(|tagged| tagged.split_once("}:")) {
        Some((shard, after)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => after,
        _ => rest,
    }
}

/// The keys of one session, built once per operation: its own three, and
/// the set and index of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub data: String,
    pub meta: String,
    /// List of the conversation items, oldest first (one JSON text each).
    pub items: String,
    /// Hash of the session's own state: key to JSON text.
    pub state: String,
    pub expiry: String,
    pub active: String,
    pub index: String,
}

impl SessionKeys {
    /// The keys of `id` in the design document's layout.
    pub fn new(id: &SessionId) -> Self {
        Layout::Document.session_keys(id)
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
        assert_eq!((keys.active.as_str(), keys.index.as_str()), ("active_sessions", "session_index"));
    }

    #[test]
    fn sharded_keys_carry_the_shard_tag_and_parse_back() {
        let id = SessionId::parse("11111111-1111-4111-8111-111111111111").unwrap();
        let keys = Layout::Sharded { shards: 64 }.session_keys(&id);
        assert_eq!(keys.data, "session:{s35}:11111111-1111-4111-8111-111111111111:data");
        assert_eq!(keys.meta, "session:{s35}:11111111-1111-4111-8111-111111111111:meta");
        assert_eq!(keys.expiry, "session_expiry:{s35}:11111111-1111-4111-8111-111111111111");
        assert_eq!((keys.active.as_str(), keys.index.as_str()), ("active_sessions:{s35}", "session_index:{s35}"));
        assert_eq!(parse_session_key(&keys.data), Some((id.clone(), SessionKeyKind::Data)));
        assert_eq!(parse_session_key(&keys.meta), Some((id.clone(), SessionKeyKind::Meta)));
        assert_eq!(parse_session_key(&keys.expiry), Some((id, SessionKeyKind::Expiry)));
        assert_eq!(parse_session_key("session:{sx}:11111111-1111-4111-8111-111111111111:data"), None);
        let groups = Layout::Sharded { shards: 4 }.groups();
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[3].index, "session_index:{s3}");
        assert_eq!(Layout::Document.groups()[0].active, "active_sessions");
    }

    /// Caller-chosen ids hold no `:` or `{`, so their keys parse back to
    /// the same id in either layout and nothing else parses as one.
    #[test]
    fn caller_id_keys_parse_back() {
        for text in ["chat-42", "User_7.session-A", "0b6f2a523c1e4d7a9a556f1f3e2b9c10", "s1"] {
            let id = SessionId::parse(text).unwrap();
            for layout in [Layout::Document, Layout::Sharded { shards: 64 }] {
                let keys = layout.session_keys(&id);
                assert_eq!(parse_session_key(&keys.data), Some((id.clone(), SessionKeyKind::Data)));
                assert_eq!(parse_session_key(&keys.meta), Some((id.clone(), SessionKeyKind::Meta)));
                assert_eq!(parse_session_key(&keys.expiry), Some((id.clone(), SessionKeyKind::Expiry)));
            }
        }
        assert_eq!(parse_session_key("session:chat-42:data").unwrap().0.as_str(), "chat-42");
        assert_eq!(parse_session_key("session:{s3}:Chat-42:meta").unwrap().0.as_str(), "Chat-42");
        for not_a_session_key in [
            "session:a:b:data",
            "session::data",
            "session:{x}:data",
            "session:{s3}::meta",
            "session_expiry:",
            "session_expiry:a:b",
            "session_expiry:{s3}:",
            "session:a b:data",
            "session_index",
            "session_layout",
        ] {
            assert_eq!(parse_session_key(not_a_session_key), None, "{not_a_session_key}");
        }
    }
}
