//! Session values, mirroring the `types` WIT interface.

use crate::timestamp::Timestamp;

/// Input of `create`. See `validation` for every rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionCreate {
    pub model_id: String,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    pub temperature: Option<f64>,
    pub reasoning_effort: Option<i64>,
    pub max_tokens: Option<i64>,
    pub tools: Vec<String>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
    pub status: Option<String>,
}

/// A data field that `update` can reset to absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataField {
    PersonaId,
    Name,
    Temperature,
    ReasoningEffort,
    MaxTokens,
    Tools,
    CustomPrompt,
    AgentInternalId,
}

/// Input of `update`: `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionUpdate {
    pub model_id: Option<String>,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    pub temperature: Option<f64>,
    pub reasoning_effort: Option<i64>,
    pub max_tokens: Option<i64>,
    pub tools: Option<Vec<String>>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
    pub status: Option<String>,
    pub clear: Vec<DataField>,
    pub expected_version: Option<u64>,
}

/// The nine data fields of the design document, decoded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionData {
    pub model_id: String,
    pub persona_id: Option<String>,
    pub name: Option<String>,
    pub temperature: Option<f64>,
    pub reasoning_effort: Option<i64>,
    pub max_tokens: Option<i64>,
    pub tools: Vec<String>,
    pub custom_prompt: Option<String>,
    pub agent_internal_id: Option<String>,
}

/// The meta hash, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMeta {
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_activity: Timestamp,
    pub is_active: bool,
    pub status: String,
    /// 0 when the session was written without a version (another service).
    pub version: u64,
}

/// A live session as `get`, `update` and `list` return it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub data: SessionData,
    pub meta: SessionMeta,
    /// Seconds until expiry; `None` when the expiry key has no TTL.
    pub expires_in_seconds: Option<u64>,
}

/// A stored value that does not decode, named precisely enough to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    pub session_id: String,
    /// Redis key without the host's prefix.
    pub key: String,
    /// Hash field, or "" when the key itself is the problem.
    pub field: String,
    pub message: String,
}

/// One page of `list`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub corrupt: Vec<Corruption>,
}

/// What `cleanup_expired` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanupReport {
    /// Expired sessions whose leftovers this call removed.
    pub removed: u64,
    /// Entries left in place because they cannot be judged.
    pub skipped: u64,
    /// The first [`MAX_REPORTED_PROBLEMS`] of those.
    pub problems: Vec<Corruption>,
}

/// How many skipped entries a cleanup report names.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

impl CleanupReport {
    pub(crate) fn skip(&mut self, problem: Corruption) {
        self.skipped += 1;
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(problem);
        }
    }
}

/// Upper bounds, in seconds, of the remaining-TTL buckets `stats` counts
/// live sessions in; a last bucket holds longer TTLs.
pub const TTL_BUCKET_BOUNDS: [u64; 7] = [60, 300, 900, 3_600, 21_600, 86_400, 604_800];

/// Most problems `stats` lists (it counts all of them).
pub const MAX_STATS_PROBLEMS: usize = 100;

/// Live sessions whose remaining TTL is at most `up_to_seconds` (and more
/// than the previous bucket's bound); `None`: longer than every bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlBucket {
    pub up_to_seconds: Option<u64>,
    pub count: u64,
}

/// What `stats` found in the keyspace: counts for monitoring and the
/// inconsistencies an operator should know about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionStats {
    /// Live sessions (in `active_sessions`, expiry key present).
    pub sessions: u64,
    /// Live sessions whose `is_active` is true, and the others.
    pub active: u64,
    pub inactive: u64,
    /// Live sessions by `status`, sorted by status.
    pub by_status: Vec<(String, u64)>,
    /// Live sessions by remaining TTL (see [`TTL_BUCKET_BOUNDS`]).
    pub ttl_buckets: Vec<TtlBucket>,
    /// The oldest and newest live session by created_at, and when.
    pub oldest_session_id: Option<String>,
    pub oldest_created_at: Option<Timestamp>,
    pub newest_session_id: Option<String>,
    pub newest_created_at: Option<Timestamp>,
    /// Members whose expiry key is gone but whose hashes remain: cleanup
    /// will remove them.
    pub expired_awaiting_cleanup: u64,
    /// Members of `active_sessions` with no key at all (or no session id).
    pub members_without_keys: u64,
    /// Per-session keys whose id is not in `active_sessions`.
    pub keys_without_members: u64,
    /// Per-session keys without a TTL.
    pub keys_without_ttl: u64,
    /// Sizes of `active_sessions` and the list index when the scan began.
    pub set_size: u64,
    pub index_size: u64,
    /// The first [`MAX_STATS_PROBLEMS`] inconsistencies, each naming key and member.
    pub problems: Vec<Corruption>,
}

/// One step of `stats`: the totals so far, and where to go on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsPage {
    /// Pass to the next call; meaningless once `done`.
    pub cursor: String,
    pub done: bool,
    pub stats: SessionStats,
}

/// A session as stored: both hashes byte for byte and the remaining TTL of
/// its expiry key (`None`: no TTL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredSession {
    pub id: String,
    pub data: Vec<(String, String)>,
    pub meta: Vec<(String, String)>,
    pub ttl_ms: Option<u64>,
}

/// One page of `export_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportPage {
    pub cursor: String,
    pub done: bool,
    pub sessions: Vec<StoredSession>,
}

/// One session to import.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    /// As exported: written back byte for byte.
    Stored(StoredSession),
    /// Typed, e.g. converted from another store: validated and encoded.
    Typed(Box<Session>),
    /// A record the host could not even convert (says why).
    Unreadable(String),
}

/// What to do with a record whose id is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    Skip,
    Overwrite,
    Fail,
}

/// A record `import_sessions` refused, by position in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub index: u32,
    pub message: String,
}

/// What `import_sessions` did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub imported: u64,
    pub overwritten: u64,
    pub skipped: u64,
    pub rejected: Vec<RejectedRecord>,
}

/// One page of `migrate`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigratePage {
    pub cursor: String,
    pub done: bool,
    pub examined: u64,
    pub indexed: u64,
    pub hash_ttls_set: u64,
    pub schema_versions_set: u64,
}
