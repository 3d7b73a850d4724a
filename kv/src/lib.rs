//! # agent-sessions kv
//!
//! The kv protocol of agent-sessions, apart from the session rules: the
//! storage vocabulary of the `kv` WIT interface as plain Rust (batches of
//! [`Condition`]s and [`Op`]s, their [`Reply`]s), the one [`table`] of ops
//! and conditions, the packed form that crosses `kv.execute`, the batch
//! [`rules`] every backend applies, and `redis/kv_batch.lua`
//! ([`KV_BATCH_SCRIPT`]), which runs a packed batch on Redis.
//!
//! - [`pack`]: the guest's half of the packed form (a batch out, its reply
//!   in). [`unpack`]: the backends' half (a batch in, its reply out), for
//!   a backend that is not the script (the host's in-memory store).
//! - The packed batch says whether it writes: [`pack::batch_writes`] is
//!   all a host reads of it (to decide on `WAIT`).
//!
//! The session rules speak this language through [`Storage`]. In the
//! component, [`Storage`] is the imported `kv.execute`; a native embedder
//! implements it over any backend with the same semantics: conditions
//! first, then every op in order, all in one atomic step. It builds for
//! wasm32-wasip2 and natively.

use std::fmt;

pub mod duration;
mod json;
pub mod pack;
pub mod redact;
pub mod rules;
pub mod script;
pub mod table;
pub mod unpack;

pub use table::{ConditionCode, OpCode};

/// The packed form as one module: the guest's half and the backends' half.
pub mod wire {
    pub use crate::pack::*;
    pub use crate::unpack::*;
}

/// `redis/kv_batch.lua`: runs one packed batch on Redis; every host loads
/// this text (SCRIPT LOAD / EVALSHA).
pub const KV_BATCH_SCRIPT: &str = include_str!("../../redis/kv_batch.lua");

/// Most fields or members one op may name; hosts refuse more.
pub const MAX_MEMBERS_PER_OP: usize = 1000;

/// Checked before anything is written; the first that fails aborts the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    KeyExists(String),
    KeyMissing(String),
    FieldEquals {
        key: String,
        field: String,
        value: String,
    },
    FieldMissing {
        key: String,
        field: String,
    },
    /// LLEN of `key` is from `min` to `max`, both included (a missing key
    /// has length 0). On failure `actual` is the length as text; a key of
    /// another type fails it with no `actual`, as the field conditions do.
    ListLength {
        key: String,
        min: u64,
        max: u64,
    },
}

impl Condition {
    /// The key this condition reads.
    pub fn key(&self) -> &str {
        match self {
            Condition::KeyExists(key)
            | Condition::KeyMissing(key)
            | Condition::FieldEquals { key, .. }
            | Condition::FieldMissing { key, .. }
            | Condition::ListLength { key, .. } => key,
        }
    }
}

/// One step of a batch. Reads see the writes before them.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    HashGetAll(String),
    HashGet {
        key: String,
        field: String,
    },
    /// HMGET: values of the named fields, in order.
    HashGetFields {
        key: String,
        fields: Vec<String>,
    },
    HashSet {
        key: String,
        fields: Vec<(String, String)>,
    },
    HashIncrement {
        key: String,
        field: String,
        delta: i64,
    },
    StringSet {
        key: String,
        value: String,
        ttl_ms: Option<u64>,
    },
    Exists(String),
    TtlMs(String),
    Expire {
        key: String,
        ttl_ms: u64,
    },
    Delete(String),
    SetAdd {
        key: String,
        members: Vec<String>,
    },
    SetRemove {
        key: String,
        members: Vec<String>,
    },
    SetSize(String),
    SetScan(ScanRequest),
    SortedAdd {
        key: String,
        members: Vec<(f64, String)>,
    },
    SortedRemove {
        key: String,
        members: Vec<String>,
    },
    SortedSize(String),
    SortedScore {
        key: String,
        member: String,
    },
    /// Ranks `start..=stop`, highest score first, with their scores.
    SortedRangeDesc {
        key: String,
        start: u64,
        stop: u64,
    },
    /// Members scored from `max` down to `min`, highest first (ties: the
    /// greater member first), with their scores; with `limit`, `count` of
    /// them after skipping `offset` (Redis's `LIMIT offset count`).
    SortedRangeByScoreDesc {
        key: String,
        max: ScoreBound,
        min: ScoreBound,
        limit: Option<(u64, u64)>,
    },
    SortedScan(ScanRequest),
    /// SISMEMBER: 1 if `member` is in the set.
    SetContains {
        key: String,
        member: String,
    },
    /// SCAN with MATCH: keys matching a glob pattern, one bounded page; the
    /// reply's members are keys. The pattern takes the key's place.
    KeyScan(KeyScanRequest),
    /// HDEL: the reply is how many of `fields` were removed.
    HashDelete {
        key: String,
        fields: Vec<String>,
    },
    /// RPUSH: appends `values` in order; the reply is the new length.
    ListPush {
        key: String,
        values: Vec<String>,
    },
    /// LRANGE `start` `stop` (Redis indexes: negative count from the end),
    /// then only the newest items of that range whose lengths in bytes add
    /// up to at most `max_bytes`, and always at least one when the range is
    /// not empty. The reply is [`Reply::ListTail`], oldest item first.
    ListRangeTail {
        key: String,
        start: i64,
        stop: i64,
        max_bytes: u64,
    },
    /// RPOP: removes the last item; the reply is its text, `None` when the
    /// list is empty or missing.
    ListPopLast(String),
    /// Keeps the items from `start` to `stop` only (Redis indexes); the
    /// reply is `Integer(1)`.
    ListTrim {
        key: String,
        start: i64,
        stop: i64,
    },
    /// LLEN: 0 for a missing key.
    ListLength(String),
}

/// One end of a score range: a score (may be infinite), in or out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub score: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    pub fn inclusive(score: f64) -> Self {
        Self { score, exclusive: false }
    }

    pub fn exclusive(score: f64) -> Self {
        Self { score, exclusive: true }
    }

    /// Whether `score` lies on the inner side of this bound as a maximum.
    pub fn admits_below(&self, score: f64) -> bool {
        if self.exclusive { score < self.score } else { score <= self.score }
    }

    /// Whether `score` lies on the inner side of this bound as a minimum.
    pub fn admits_above(&self, score: f64) -> bool {
        if self.exclusive { score > self.score } else { score >= self.score }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScanRequest {
    /// A glob pattern (`*`, `?`; `\` escapes) relative to the prefix.
    pub pattern: String,
    pub cursor: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    pub key: String,
    pub cursor: String,
    pub count: u32,
}

impl Op {
    /// The key this op works on (for `KeyScan`, its pattern).
    pub fn key(&self) -> &str {
        match self {
            Op::HashGetAll(key)
            | Op::Exists(key)
            | Op::TtlMs(key)
            | Op::Delete(key)
            | Op::SetSize(key)
            | Op::SortedSize(key)
            | Op::HashGet { key, .. }
            | Op::HashGetFields { key, .. }
            | Op::HashSet { key, .. }
            | Op::HashIncrement { key, .. }
            | Op::StringSet { key, .. }
            | Op::Expire { key, .. }
            | Op::SetAdd { key, .. }
            | Op::SetRemove { key, .. }
            | Op::SortedAdd { key, .. }
            | Op::SortedRemove { key, .. }
            | Op::SortedScore { key, .. }
            | Op::SortedRangeDesc { key, .. }
            | Op::SortedRangeByScoreDesc { key, .. }
            | Op::SetContains { key, .. }
            | Op::HashDelete { key, .. }
            | Op::ListPush { key, .. }
            | Op::ListRangeTail { key, .. }
            | Op::ListPopLast(key)
            | Op::ListTrim { key, .. }
            | Op::ListLength(key) => key,
            Op::SetScan(scan) | Op::SortedScan(scan) => &scan.key,
            Op::KeyScan(scan) => &scan.pattern,
        }
    }

    /// Its row in the op [`table`].
    pub fn spec(&self) -> &'static table::OpSpec {
        self.code().spec()
    }

    /// The Redis type this op needs its key to hold (or the key to be
    /// missing); `None` for ops that work on any type.
    pub fn key_type(&self) -> Option<KeyType> {
        match self.spec().key {
            table::KeyUse::Holds(key_type) => Some(key_type),
            _ => None,
        }
    }

    /// Whether the op changes storage.
    pub fn is_write(&self) -> bool {
        self.spec().writes
    }

    /// Which op of the [`table`] this is.
    pub fn code(&self) -> OpCode {
        match self {
            Op::HashGetAll(_) => OpCode::HashGetAll,
            Op::HashGet { .. } => OpCode::HashGet,
            Op::HashGetFields { .. } => OpCode::HashGetFields,
            Op::HashSet { .. } => OpCode::HashSet,
            Op::HashIncrement { .. } => OpCode::HashIncrement,
            Op::HashDelete { .. } => OpCode::HashDelete,
            Op::StringSet { .. } => OpCode::StringSet,
            Op::Exists(_) => OpCode::Exists,
            Op::TtlMs(_) => OpCode::TtlMs,
            Op::Expire { .. } => OpCode::Expire,
            Op::Delete(_) => OpCode::Delete,
            Op::SetAdd { .. } => OpCode::SetAdd,
            Op::SetRemove { .. } => OpCode::SetRemove,
            Op::SetSize(_) => OpCode::SetSize,
            Op::SetScan(_) => OpCode::SetScan,
            Op::SetContains { .. } => OpCode::SetContains,
            Op::SortedAdd { .. } => OpCode::SortedAdd,
            Op::SortedRemove { .. } => OpCode::SortedRemove,
            Op::SortedSize(_) => OpCode::SortedSize,
            Op::SortedScore { .. } => OpCode::SortedScore,
            Op::SortedRangeDesc { .. } => OpCode::SortedRangeDesc,
            Op::SortedRangeByScoreDesc { .. } => OpCode::SortedRangeByScoreDesc,
            Op::SortedScan(_) => OpCode::SortedScan,
            Op::KeyScan(_) => OpCode::KeyScan,
            Op::ListPush { .. } => OpCode::ListPush,
            Op::ListRangeTail { .. } => OpCode::ListRangeTail,
            Op::ListPopLast(_) => OpCode::ListPopLast,
            Op::ListTrim { .. } => OpCode::ListTrim,
            Op::ListLength(_) => OpCode::ListLength,
        }
    }
}

impl Condition {
    /// Which condition of the [`table`] this is.
    pub fn code(&self) -> ConditionCode {
        match self {
            Condition::KeyExists(_) => ConditionCode::KeyExists,
            Condition::KeyMissing(_) => ConditionCode::KeyMissing,
            Condition::FieldEquals { .. } => ConditionCode::FieldEquals,
            Condition::FieldMissing { .. } => ConditionCode::FieldMissing,
            Condition::ListLength { .. } => ConditionCode::ListLength,
        }
    }
}

/// The Redis data types the layout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Hash,
    Set,
    SortedSet,
    List,
}

impl KeyType {
    /// The name Redis' `TYPE` command gives.
    pub fn redis_name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::Set => "set",
            KeyType::SortedSet => "zset",
            KeyType::List => "list",
        }
    }
}

/// The reply of one op.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Integer(i64),
    Text(Option<String>),
    Texts(Vec<String>),
    Fields(Vec<(String, String)>),
    Values(Vec<Option<String>>),
    Scan(ScanPage),
    /// Members with their scores, in the order storage gave them.
    Scored(Vec<(String, f64)>),
    /// The reply of [`Op::ListRangeTail`]: the newest items of the range
    /// that fit the byte budget, oldest first, and how many older items of
    /// the range were left out for it.
    ListTail {
        left_out: u64,
        items: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    /// "0" when the scan is complete.
    pub cursor: String,
    pub members: Vec<String>,
}

/// A set of conditions and ops applied all-or-nothing in one round trip.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub conditions: Vec<Condition>,
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn condition(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    pub fn op(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// Every condition held; one reply per op, in order.
    Applied(Vec<Reply>),
    /// Condition `index` failed; nothing was written.
    ConditionFailed { index: u32, actual: Option<String> },
}

/// Why storage failed; the one spelling of storage error kinds (WIT
/// `storage-error-kind`, the CLI's and Python's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Storage cannot be reached; nothing was written.
    Unavailable,
    /// Storage did not answer in time; a write may or may not have happened.
    Timeout,
    /// A key holds another type than the op needs; nothing was written.
    WrongType,
    /// The batch breaks a rule of [`rules`] (a guest bug); nothing was written.
    InvalidBatch,
    /// Anything else storage reported.
    Other,
}

impl ErrorKind {
    /// snake_case, as in JSON documents and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::InvalidBatch => "invalid_batch",
            ErrorKind::Other => "other",
        }
    }
}

/// A storage failure. Nothing was written for `WrongType`, `InvalidBatch`
/// and `Unavailable`; after a `Timeout` the batch may or may not have applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError {
    pub kind: ErrorKind,
    /// For `WrongType`: the key (without the host's prefix).
    pub key: String,
    pub message: String,
}

impl KvError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, key: String::new(), message: message.into() }
    }

    pub fn wrong_type(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::WrongType, key: key.into(), message: message.into() }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KvError {}

/// Where the session rules keep their state.
pub trait Storage {
    /// Apply `batch` atomically, in one round trip.
    fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError>;

    /// Apply independent `batches`, each atomically on its own, at the same
    /// time where the storage can (`kv.execute-each`). The outer error is
    /// a storage failure; each batch's own outcome or error (a key of the
    /// wrong type) is inside. By default one after another.
    fn execute_each(&mut self, batches: Vec<Batch>) -> Result<Vec<Result<BatchOutcome, KvError>>, KvError> {
        let mut outcomes = Vec::with_capacity(batches.len());
        for batch in batches {
            match self.execute(batch) {
                Err(error) if error.kind != ErrorKind::WrongType => return Err(error),
                outcome => outcomes.push(outcome),
            }
        }
        Ok(outcomes)
    }
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
        (**self).execute(batch)
    }

    fn execute_each(&mut self, batches: Vec<Batch>) -> Result<Vec<Result<BatchOutcome, KvError>>, KvError> {
        (**self).execute_each(batches)
    }
}

/// Reading typed values out of replies. A reply of the wrong shape is a
/// backend bug, reported as `InvalidBatch` rather than a panic.
impl Reply {
    /// Whether this is an integer above 0 (an op that added, removed or
    /// found something).
    pub fn is_positive_integer(&self) -> bool {
        matches!(self, Reply::Integer(n) if *n > 0)
    }

    pub fn into_integer(self) -> Result<i64, KvError> {
        match self {
            Reply::Integer(value) => Ok(value),
            other => Err(unexpected("integer", &other)),
        }
    }

    pub fn into_text(self) -> Result<Option<String>, KvError> {
        match self {
            Reply::Text(value) => Ok(value),
            other => Err(unexpected("text", &other)),
        }
    }

    pub fn into_texts(self) -> Result<Vec<String>, KvError> {
        match self {
            Reply::Texts(values) => Ok(values),
            other => Err(unexpected("texts", &other)),
        }
    }

    pub fn into_scored(self) -> Result<Vec<(String, f64)>, KvError> {
        match self {
            Reply::Scored(members) => Ok(members),
            other => Err(unexpected("scored members", &other)),
        }
    }

    pub fn into_fields(self) -> Result<Vec<(String, String)>, KvError> {
        match self {
            Reply::Fields(fields) => Ok(fields),
            other => Err(unexpected("fields", &other)),
        }
    }

    pub fn into_values(self) -> Result<Vec<Option<String>>, KvError> {
        match self {
            Reply::Values(values) => Ok(values),
            other => Err(unexpected("values", &other)),
        }
    }

    pub fn into_scan(self) -> Result<ScanPage, KvError> {
        match self {
            Reply::Scan(page) => Ok(page),
            other => Err(unexpected("scan", &other)),
        }
    }

    /// `(left_out, items)` of a [`Reply::ListTail`].
    pub fn into_list_tail(self) -> Result<(u64, Vec<String>), KvError> {
        match self {
            Reply::ListTail { left_out, items } => Ok((left_out, items)),
            other => Err(unexpected("list tail", &other)),
        }
    }
}

fn unexpected(wanted: &str, got: &Reply) -> KvError {
    KvError::new(ErrorKind::InvalidBatch, format!("storage replied {got:?} where {wanted} was expected"))
}

/// Replies of an applied batch, taken in order.
pub struct Replies(std::vec::IntoIter<Reply>);

impl Replies {
    pub fn new(replies: Vec<Reply>) -> Self {
        Self(replies.into_iter())
    }

    pub fn next_reply(&mut self) -> Result<Reply, KvError> {
        self.0.next().ok_or_else(|| KvError::new(ErrorKind::InvalidBatch, "storage returned fewer replies than ops"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ops_name_their_key_type_and_whether_they_write() {
        let key = || "l".to_owned();
        let ops = [
            (Op::ListPush { key: key(), values: vec!["v".into()] }, KeyType::List, true),
            (Op::ListRangeTail { key: key(), start: 0, stop: -1, max_bytes: 1 }, KeyType::List, false),
            (Op::ListPopLast(key()), KeyType::List, true),
            (Op::ListTrim { key: key(), start: 0, stop: -1 }, KeyType::List, true),
            (Op::ListLength(key()), KeyType::List, false),
            (Op::HashDelete { key: key(), fields: vec!["f".into()] }, KeyType::Hash, true),
        ];
        for (op, key_type, writes) in ops {
            assert_eq!(op.key(), "l", "{op:?}");
            assert_eq!(op.key_type(), Some(key_type), "{op:?}");
            assert_eq!(op.is_write(), writes, "{op:?}");
        }
        assert_eq!(KeyType::List.redis_name(), "list");
        assert_eq!(Condition::ListLength { key: key(), min: 0, max: 1 }.key(), "l");
    }

    #[test]
    fn a_list_tail_reply_reads_as_one() {
        let reply = Reply::ListTail { left_out: 2, items: vec!["a".into()] };
        assert_eq!(reply.into_list_tail(), Ok((2, vec!["a".to_owned()])));
        assert_eq!(Reply::Integer(1).into_list_tail().unwrap_err().kind, ErrorKind::InvalidBatch);
    }
}
