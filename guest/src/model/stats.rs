//! `stats`: counts of the keyspace for monitoring, a page at a time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Corruption;
use crate::timestamp::Timestamp;

/// Upper bounds, in seconds, of the remaining-TTL buckets `stats` counts
/// live sessions in; a last bucket holds longer TTLs.
pub const TTL_BUCKET_BOUNDS: [u64; 7] = [60, 300, 900, 3_600, 21_600, 86_400, 604_800];

/// Most problems `stats` lists (it counts all of them).
pub const MAX_STATS_PROBLEMS: usize = 100;

/// Live sessions whose remaining TTL is at most `up_to_seconds` (and more
/// than the previous bucket's bound); `None`: longer than every bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TtlBucket {
    pub up_to_seconds: Option<u64>,
    pub count: u64,
}

/// What `stats` found in the keyspace: counts for monitoring and the
/// inconsistencies an operator should know about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionStats {
    /// Live sessions (in `active_sessions`, expiry key present).
    pub sessions: u64,
    /// Live sessions whose `is_active` is true, and the others.
    pub active: u64,
    pub inactive: u64,
    /// Live sessions by `status`.
    pub by_status: BTreeMap<String, u64>,
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
    /// Conversation items of live sessions: in all, how many sessions have
    /// any, and the most one session holds (and which).
    #[serde(default)]
    pub items: u64,
    #[serde(default)]
    pub sessions_with_items: u64,
    #[serde(default)]
    pub max_items: u64,
    #[serde(default)]
    pub max_items_session_id: Option<String>,
    /// Live sessions with an owner (`app_name`, `user_id`).
    #[serde(default)]
    pub owned_sessions: u64,
    /// The first [`MAX_STATS_PROBLEMS`] inconsistencies, each naming key and member.
    pub problems: Vec<Corruption>,
}

/// One step of `stats`: the totals so far, and where to go on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatsPage {
    /// Pass to the next call; meaningless once `done`.
    pub cursor: String,
    pub done: bool,
    pub stats: SessionStats,
}
