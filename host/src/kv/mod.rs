//! `kv`: the storage the guest reaches, and nothing else.
//!
//! [`KvStore`] is what a component instance talks to: it checks each batch,
//! confines every key to the configured prefix, and hands the batch to one
//! backend, [`redis::RedisBackend`] or [`memory::MemoryBackend`], which
//! implement identical semantics. `wit` adapts it to the WIT interface.

pub mod memory;
pub mod redis;
pub(crate) mod wit;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agent_sessions_guest::kv::{
    Batch, BatchOutcome, Condition, ErrorKind, KeyScanRequest, KeyType, KvError, Op, Reply, ScanRequest,
};

/// Largest batch the host accepts from a guest, in conditions plus ops.
pub const MAX_BATCH_ENTRIES: usize = 100_000;
/// Most fields or members one op may name (Redis' Lua cannot unpack many
/// more arguments into one command).
pub const MAX_OP_ITEMS: usize = agent_sessions_guest::kv::MAX_MEMBERS_PER_OP;
/// Longest TTL an op may set: 100 years.
pub const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// One of the two storage backends.
#[derive(Clone)]
pub enum Backend {
    Redis(redis::RedisBackend),
    Memory(memory::MemoryBackend),
}

impl Backend {
    pub async fn execute(&self, batch: &Batch) -> Result<BatchOutcome, KvError> {
        match self {
            Backend::Redis(redis) => redis.execute(batch).await,
            Backend::Memory(memory) => memory.execute(batch),
        }
    }

    /// Round-trip time to storage.
    pub async fn ping(&self) -> Result<Duration, KvError> {
        match self {
            Backend::Redis(redis) => redis.ping().await,
            Backend::Memory(_) => Ok(Duration::ZERO),
        }
    }

    /// Where the data lives, safe to print (no password).
    pub fn describe(&self) -> String {
        match self {
            Backend::Redis(redis) => redis.redacted_url().to_owned(),
            Backend::Memory(_) => "in-memory store".to_owned(),
        }
    }
}

/// A backend seen through a key prefix.
#[derive(Clone)]
pub struct KvStore {
    backend: Backend,
    prefix: String,
    /// Batches sent to storage, one round trip each (shared by clones).
    round_trips: Arc<AtomicU64>,
}

impl KvStore {
    pub fn new(backend: Backend, prefix: impl Into<String>) -> Self {
        Self { backend, prefix: prefix.into(), round_trips: Arc::default() }
    }

    /// Batches sent to storage so far by this store and its clones; each is
    /// one round trip.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks and runs a batch; keys in errors are given without the prefix.
    pub async fn execute(&self, batch: &Batch) -> Result<BatchOutcome, KvError> {
        check_batch(batch)?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let prefixed = if self.prefix.is_empty() { Cow::Borrowed(batch) } else { Cow::Owned(self.prefixed(batch)) };
        let outcome = self.backend.execute(&prefixed).await.map_err(|mut error| {
            if let Some(unprefixed) = error.key.strip_prefix(&self.prefix) {
                error.key = unprefixed.to_owned();
            }
            error
        })?;
        Ok(self.unprefixed_keys(batch, outcome))
    }

    /// Key scans reply with full key names; the guest sees them without the prefix.
    fn unprefixed_keys(&self, batch: &Batch, outcome: BatchOutcome) -> BatchOutcome {
        match outcome {
            BatchOutcome::Applied(mut replies) if !self.prefix.is_empty() => {
                for (op, reply) in batch.ops.iter().zip(replies.iter_mut()) {
                    if let (Op::KeyScan(_), Reply::Scan(page)) = (op, reply) {
                        for key in &mut page.members {
                            if let Some(unprefixed) = key.strip_prefix(&self.prefix) {
                                *key = unprefixed.to_owned();
                            }
                        }
                    }
                }
                BatchOutcome::Applied(replies)
            }
            other => other,
        }
    }

    fn prefixed(&self, batch: &Batch) -> Batch {
        let p = |key: &String| format!("{}{key}", self.prefix);
        let conditions = batch
            .conditions
            .iter()
            .map(|condition| match condition {
                Condition::KeyExists(key) => Condition::KeyExists(p(key)),
                Condition::KeyMissing(key) => Condition::KeyMissing(p(key)),
                Condition::FieldEquals { key, field, value } => {
                    Condition::FieldEquals { key: p(key), field: field.clone(), value: value.clone() }
                }
                Condition::FieldMissing { key, field } => Condition::FieldMissing { key: p(key), field: field.clone() },
            })
            .collect();
        let scan = |s: &ScanRequest| ScanRequest { key: p(&s.key), cursor: s.cursor.clone(), count: s.count };
        let ops = batch
            .ops
            .iter()
            .map(|op| match op {
                Op::HashGetAll(key) => Op::HashGetAll(p(key)),
                Op::HashGet { key, field } => Op::HashGet { key: p(key), field: field.clone() },
                Op::HashGetFields { key, fields } => Op::HashGetFields { key: p(key), fields: fields.clone() },
                Op::HashSet { key, fields } => Op::HashSet { key: p(key), fields: fields.clone() },
                Op::HashIncrement { key, field, delta } => {
                    Op::HashIncrement { key: p(key), field: field.clone(), delta: *delta }
                }
                Op::StringSet { key, value, ttl_ms } => {
                    Op::StringSet { key: p(key), value: value.clone(), ttl_ms: *ttl_ms }
                }
                Op::Exists(key) => Op::Exists(p(key)),
                Op::TtlMs(key) => Op::TtlMs(p(key)),
                Op::Expire { key, ttl_ms } => Op::Expire { key: p(key), ttl_ms: *ttl_ms },
                Op::Delete(key) => Op::Delete(p(key)),
                Op::SetAdd { key, members } => Op::SetAdd { key: p(key), members: members.clone() },
                Op::SetRemove { key, members } => Op::SetRemove { key: p(key), members: members.clone() },
                Op::SetSize(key) => Op::SetSize(p(key)),
                Op::SetScan(s) => Op::SetScan(scan(s)),
                Op::SortedAdd { key, members } => Op::SortedAdd { key: p(key), members: members.clone() },
                Op::SortedRemove { key, members } => Op::SortedRemove { key: p(key), members: members.clone() },
                Op::SortedSize(key) => Op::SortedSize(p(key)),
                Op::SortedScore { key, member } => Op::SortedScore { key: p(key), member: member.clone() },
                Op::SortedRangeDesc { key, start, stop } => {
                    Op::SortedRangeDesc { key: p(key), start: *start, stop: *stop }
                }
                Op::SortedScan(s) => Op::SortedScan(scan(s)),
                Op::SetContains { key, member } => Op::SetContains { key: p(key), member: member.clone() },
                Op::KeyScan(s) => Op::KeyScan(KeyScanRequest {
                    pattern: format!("{}{}", escape_glob(&self.prefix), s.pattern),
                    cursor: s.cursor.clone(),
                    count: s.count,
                }),
            })
            .collect();
        Batch { conditions, ops }
    }
}

/// The type each key of a batch is used as. Most batches name a handful of
/// keys, where a scan beats hashing; large ones (cleanup) switch to a map.
#[derive(Default)]
struct KeyTypes<'a> {
    few: Vec<(&'a str, KeyType)>,
    many: HashMap<&'a str, KeyType>,
}

impl<'a> KeyTypes<'a> {
    const SCAN_LIMIT: usize = 16;

    /// Records `key_type` for `key`; returns the type recorded before.
    fn insert(&mut self, key: &'a str, key_type: KeyType) -> Option<KeyType> {
        if self.many.is_empty() {
            if let Some((_, previous)) = self.few.iter().find(|(k, _)| *k == key) {
                return Some(*previous);
            }
            if self.few.len() < Self::SCAN_LIMIT {
                self.few.push((key, key_type));
                return None;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(key, key_type)
    }
}

/// Rejects batches no backend could apply atomically: empty writes, bad
/// scores, and one key used as two types. Both backends can then rely on
/// their up-front type checks.
fn check_batch(batch: &Batch) -> Result<(), KvError> {
    let invalid = |message: String| Err(KvError::new(ErrorKind::InvalidBatch, message));
    if batch.conditions.len() + batch.ops.len() > MAX_BATCH_ENTRIES {
        return invalid(format!("a batch may hold at most {MAX_BATCH_ENTRIES} conditions and ops"));
    }
    let mut types = KeyTypes::default();
    for (index, op) in batch.ops.iter().enumerate() {
        let items = match op {
            Op::HashSet { fields, .. } => fields.len(),
            Op::HashGetFields { fields, .. } => fields.len(),
            Op::SetAdd { members, .. } | Op::SetRemove { members, .. } | Op::SortedRemove { members, .. } => {
                members.len()
            }
            Op::SortedAdd { members, .. } => members.len(),
            _ => 0,
        };
        if items > MAX_OP_ITEMS {
            return invalid(format!("op {index} names {items} items; at most {MAX_OP_ITEMS} per op"));
        }
        let ttl_ms = match op {
            Op::StringSet { ttl_ms, .. } => *ttl_ms,
            Op::Expire { ttl_ms, .. } => Some(*ttl_ms),
            _ => None,
        };
        if ttl_ms.is_some_and(|ms| !(1..=MAX_TTL_MS).contains(&ms)) {
            return invalid(format!("op {index}: a TTL must be from 1 ms to {MAX_TTL_MS} ms"));
        }
        let empty = match op {
            Op::HashSet { fields, .. } => fields.is_empty(),
            Op::HashGetFields { fields, .. } => fields.is_empty(),
            Op::SetAdd { members, .. } | Op::SetRemove { members, .. } | Op::SortedRemove { members, .. } => {
                members.is_empty()
            }
            Op::SortedAdd { members, .. } => {
                if members.iter().any(|(score, _)| !score.is_finite()) {
                    return invalid(format!("op {index}: scores must be finite"));
                }
                members.is_empty()
            }
            Op::SetScan(scan) | Op::SortedScan(scan) => scan.count == 0,
            Op::KeyScan(scan) => scan.count == 0 || scan.pattern.is_empty(),
            _ => false,
        };
        if empty {
            return invalid(format!("op {index} on {} has nothing to do", op.key()));
        }
        let key_type = match op {
            Op::StringSet { .. } => Some(KeyType::String),
            other => other.key_type(),
        };
        if let Some(key_type) = key_type
            && let Some(previous) = types.insert(op.key(), key_type)
            && previous != key_type
        {
            return invalid(format!(
                "op {index} uses {} as a {} and as a {}",
                op.key(),
                previous.redis_name(),
                key_type.redis_name()
            ));
        }
    }
    Ok(())
}

/// `text` with Redis' glob characters escaped, so that a prefix matches
/// only itself in a SCAN pattern.
pub fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
