//! The one table of kv ops and conditions.
//!
//! Everything that differs from one op to the next, apart from what it
//! does to the data, is a row here: its packed code, the type its key must
//! hold, whether it writes, the shape of its arguments and of its reply,
//! and how `redis/kv_batch.lua` runs it. The guest's packer
//! ([`crate::pack`]), the unpacker and the batch rules of the backends
//! ([`crate::unpack`], [`crate::rules`]), the in-memory backend (through
//! [`Op::key_type`](crate::Op::key_type)) and the script's lookup tables
//! (generated from this file by [`crate::script`]) all read it.
//!
//! Adding an op: a variant of [`crate::Op`] and of [`OpCode`], a row of
//! [`OPS`], its arm in [`crate::Op::code`], in the packer and unpacker, in
//! the in-memory backend, and (unless the script runs it as the Redis
//! command of the same name) a branch in the script; then regenerate the
//! script's tables (`AGENT_SESSIONS_BLESS=1 cargo test -p agent-sessions-kv`).

use crate::KeyType;

/// Every op, in the order of [`OPS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    HashGetAll,
    HashGet,
    HashGetFields,
    HashSet,
    HashIncrement,
    HashDelete,
    StringSet,
    Exists,
    TtlMs,
    Expire,
    Delete,
    SetAdd,
    SetRemove,
    SetSize,
    SetScan,
    SetContains,
    SortedAdd,
    SortedRemove,
    SortedSize,
    SortedScore,
    SortedRangeDesc,
    SortedRangeByScoreDesc,
    SortedScan,
    KeyScan,
    ListPush,
    ListRangeTail,
    ListPopLast,
    ListTrim,
    ListLength,
}

/// Every condition, in the order of [`CONDITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionCode {
    KeyExists,
    KeyMissing,
    FieldEquals,
    FieldMissing,
    ListLength,
}

/// What an op needs of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The key must hold this type or be missing.
    Holds(KeyType),
    /// Any type, which the op replaces with this one (SET).
    Replaces(KeyType),
    /// Any type.
    AnyType,
    /// No key: a glob pattern, passed as an argument (key number 0).
    Pattern,
}

impl KeyUse {
    /// The type a batch uses the key as, for the rule that one batch uses
    /// a key as one type only.
    pub fn declared(self) -> Option<KeyType> {
        match self {
            KeyUse::Holds(key_type) | KeyUse::Replaces(key_type) => Some(key_type),
            KeyUse::AnyType | KeyUse::Pattern => None,
        }
    }
}

/// One packed argument (every argument travels as a JSON string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Any text: a field, value, member, cursor or pattern.
    Text,
    /// A signed 64-bit integer in Redis' plain form: `0`, or an optional
    /// `-` and digits without a leading zero.
    Integer,
    /// Digits only; beyond 64 bits it saturates.
    Count,
    /// A TTL in milliseconds (digits; the rules bound it).
    TtlMs,
    /// A sorted-set score (the rules require it finite).
    Score,
    /// A score bound as Redis reads it: `12`, `(12`, `+inf`, `-inf`.
    ScoreBound,
}

impl Arg {
    /// Its letter in the script's `ARGS` table.
    pub fn letter(self) -> char {
        match self {
            Arg::Text => 't',
            Arg::Integer => 'i',
            Arg::Count => 'c',
            Arg::TtlMs => 'm',
            Arg::Score => 's',
            Arg::ScoreBound => 'b',
        }
    }
}

/// How many arguments an op takes, and of which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// Exactly these.
    Fixed(&'static [Arg]),
    /// These, then either none or all of the optional ones.
    Optional(&'static [Arg], &'static [Arg]),
    /// Items (fields, members, values) of these arguments each; at most
    /// [`MAX_MEMBERS_PER_OP`](crate::MAX_MEMBERS_PER_OP), and at least one.
    Items(&'static [Arg]),
}

impl Args {
    /// Whether `count` arguments fit this shape.
    pub fn admits(self, count: usize) -> bool {
        match self {
            Args::Fixed(fixed) => count == fixed.len(),
            Args::Optional(fixed, optional) => count == fixed.len() || count == fixed.len() + optional.len(),
            Args::Items(item) => count.is_multiple_of(item.len()),
        }
    }

    /// The kind of argument `index` (0-based), for a count that fits.
    pub fn kind(self, index: usize) -> Arg {
        match self {
            Args::Fixed(fixed) => fixed[index],
            Args::Optional(fixed, optional) => {
                fixed.get(index).copied().unwrap_or_else(|| optional[index - fixed.len()])
            }
            Args::Items(item) => item[index % item.len()],
        }
    }

    /// The shape as the script's `ARGS` table spells it: a letter per
    /// argument; `?` before the optional ones; `*` in front of an item's.
    pub fn spelling(self) -> String {
        let letters = |args: &[Arg]| args.iter().map(|arg| arg.letter()).collect::<String>();
        match self {
            Args::Fixed(fixed) => letters(fixed),
            Args::Optional(fixed, optional) => format!("{}?{}", letters(fixed), letters(optional)),
            Args::Items(item) => format!("*{}", letters(item)),
        }
    }
}

/// The shape of an op's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyShape {
    Integer,
    /// Text, or missing.
    Text,
    /// Texts or missing ones, one per named field.
    Values,
    /// Field and value pairs.
    Fields,
    /// Members with their scores.
    Scored,
    /// A cursor and members (or keys).
    Scan,
    /// Items left out and the items kept.
    ListTail,
}

/// How the script runs an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// The Redis command of the same name, upper-cased, on the key and the
    /// arguments as they are; a status reply (`OK`) becomes `1`.
    SameNamedCommand,
    /// A branch of its own in the script.
    OwnBranch,
}

/// One row of the op table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSpec {
    pub code: OpCode,
    /// The code in the packed batch and in the script.
    pub name: &'static str,
    pub key: KeyUse,
    /// Whether the op changes storage.
    pub writes: bool,
    pub args: Args,
    pub reply: ReplyShape,
    pub runs: Runs,
    /// The arguments and the reply, for the script's header.
    pub doc: &'static str,
}

/// One row of the condition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionSpec {
    pub code: ConditionCode,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub doc: &'static str,
}

use Arg::{Count, Integer, Score, ScoreBound, Text, TtlMs};
use KeyType::{Hash, List, Set, SortedSet};

#[allow(clippy::too_many_arguments)] // one per column of the table
const fn op(
    code: OpCode,
    name: &'static str,
    key: KeyUse,
    writes: bool,
    args: Args,
    reply: ReplyShape,
    runs: Runs,
    doc: &'static str,
) -> OpSpec {
    OpSpec { code, name, key, writes, args, reply, runs, doc }
}

const READS: bool = false;
const WRITES: bool = true;
const PLAIN: Runs = Runs::SameNamedCommand;
const OWN: Runs = Runs::OwnBranch;

/// The ops, in the order of [`OpCode`].
#[rustfmt::skip]
pub const OPS: [OpSpec; 29] = {
    use Args::{Fixed, Items, Optional};
    use KeyUse::{AnyType, Holds, Pattern, Replaces};
    use OpCode as C;
    use ReplyShape as R;
    [
        op(C::HashGetAll, "hgetall", Holds(Hash), READS, Fixed(&[]), R::Fields, PLAIN, "(-) -> [field, value, ...]"),
        op(C::HashGet, "hget", Holds(Hash), READS, Fixed(&[Text]), R::Text, PLAIN, "(field) -> text or false"),
        op(C::HashGetFields, "hmget", Holds(Hash), READS, Items(&[Text]), R::Values, PLAIN, "(field, ...) -> [text or false, ...]"),
        op(C::HashSet, "hset", Holds(Hash), WRITES, Items(&[Text, Text]), R::Integer, PLAIN, "(field, value, ...) -> integer: fields added"),
        op(C::HashIncrement, "hincrby", Holds(Hash), WRITES, Fixed(&[Text, Integer]), R::Integer, PLAIN, "(field, delta) -> integer: new value"),
        op(C::HashDelete, "hdel", Holds(Hash), WRITES, Items(&[Text]), R::Integer, PLAIN, "(field, ...) -> integer: fields removed"),
        op(C::StringSet, "set", Replaces(KeyType::String), WRITES, Optional(&[Text], &[TtlMs]), R::Integer, OWN, "(value [, ttl ms]) -> integer: 1"),
        op(C::Exists, "exists", AnyType, READS, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer"),
        op(C::TtlMs, "pttl", AnyType, READS, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer: ms, -1 no TTL, -2 no key"),
        op(C::Expire, "pexpire", AnyType, WRITES, Fixed(&[TtlMs]), R::Integer, PLAIN, "(ttl ms) -> integer: 1 set, 0 no key"),
        op(C::Delete, "del", AnyType, WRITES, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer: keys removed"),
        op(C::SetAdd, "sadd", Holds(Set), WRITES, Items(&[Text]), R::Integer, PLAIN, "(member, ...) -> integer: members added"),
        op(C::SetRemove, "srem", Holds(Set), WRITES, Items(&[Text]), R::Integer, PLAIN, "(member, ...) -> integer: members removed"),
        op(C::SetSize, "scard", Holds(Set), READS, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer"),
        op(C::SetScan, "sscan", Holds(Set), READS, Fixed(&[Text, Count]), R::Scan, OWN, "(cursor, count) -> [cursor, [member, ...]]"),
        op(C::SetContains, "sismember", Holds(Set), READS, Fixed(&[Text]), R::Integer, PLAIN, "(member) -> integer: 1 if a member"),
        op(C::SortedAdd, "zadd", Holds(SortedSet), WRITES, Items(&[Score, Text]), R::Integer, PLAIN, "(score, member, ...) -> integer: members added"),
        op(C::SortedRemove, "zrem", Holds(SortedSet), WRITES, Items(&[Text]), R::Integer, PLAIN, "(member, ...) -> integer: members removed"),
        op(C::SortedSize, "zcard", Holds(SortedSet), READS, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer"),
        op(C::SortedScore, "zscore", Holds(SortedSet), READS, Fixed(&[Text]), R::Text, PLAIN, "(member) -> text or false"),
        op(C::SortedRangeDesc, "zrevrange", Holds(SortedSet), READS, Fixed(&[Count, Count]), R::Scored, OWN, "(start, stop) -> [member, score, ...]"),
        op(C::SortedRangeByScoreDesc, "zrevrangebyscore", Holds(SortedSet), READS, Optional(&[ScoreBound, ScoreBound], &[Count, Count]), R::Scored, OWN,
            "(max, min [, offset, count]) -> [member, score, ...]: max down to min (Redis bounds: 12, (12, +inf, -inf)"),
        op(C::SortedScan, "zscan", Holds(SortedSet), READS, Fixed(&[Text, Count]), R::Scan, OWN, "(cursor, count) -> [cursor, [member, ...]]"),
        op(C::KeyScan, "scan", Pattern, READS, Fixed(&[Text, Text, Count]), R::Scan, OWN, "(cursor, pattern, count) -> [cursor, [key, ...]] (keys unprefixed)"),
        op(C::ListPush, "rpush", Holds(List), WRITES, Items(&[Text]), R::Integer, PLAIN, "(value, ...) -> integer: new length"),
        op(C::ListRangeTail, "lrange", Holds(List), READS, Fixed(&[Integer, Integer, Count]), R::ListTail, OWN,
            "(start, stop, max bytes) -> [left out, [item, ...]]: of LRANGE start stop, the newest items whose lengths add up to at most max bytes (at least one), oldest first"),
        op(C::ListPopLast, "rpop", Holds(List), WRITES, Fixed(&[]), R::Text, PLAIN, "(-) -> text or false"),
        op(C::ListTrim, "ltrim", Holds(List), WRITES, Fixed(&[Integer, Integer]), R::Integer, PLAIN, "(start, stop) -> integer: 1"),
        op(C::ListLength, "llen", Holds(List), READS, Fixed(&[]), R::Integer, PLAIN, "(-) -> integer"),
    ]
};

/// The conditions, in the order of [`ConditionCode`].
#[rustfmt::skip]
pub const CONDITIONS: [ConditionSpec; 5] = {
    use ConditionCode as C;
    const fn condition(code: ConditionCode, name: &'static str, args: &'static [Arg], doc: &'static str) -> ConditionSpec {
        ConditionSpec { code, name, args, doc }
    }
    [
        condition(C::KeyExists, "exists", &[], "(-): the key exists"),
        condition(C::KeyMissing, "missing", &[], "(-): the key does not exist"),
        condition(C::FieldEquals, "field_eq", &[Text, Text], "(field, value): the hash field holds value"),
        condition(C::FieldMissing, "field_missing", &[Text], "(field): the hash has no such field"),
        condition(C::ListLength, "llen_between", &[Count, Count], "(min, max): min <= LLEN <= max (a missing key has 0)"),
    ]
};

impl OpCode {
    pub fn spec(self) -> &'static OpSpec {
        &OPS[self as usize]
    }
}

impl ConditionCode {
    pub fn spec(self) -> &'static ConditionSpec {
        &CONDITIONS[self as usize]
    }
}

/// The op packed as `name`.
pub fn op_named(name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|spec| spec.name == name)
}

/// The condition packed as `name`.
pub fn condition_named(name: &str) -> Option<&'static ConditionSpec> {
    CONDITIONS.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sit_at_their_codes_and_names_are_unique() {
        for (index, spec) in OPS.iter().enumerate() {
            assert_eq!(spec.code as usize, index, "{spec:?}");
            assert_eq!(op_named(spec.name), Some(spec));
        }
        for (index, spec) in CONDITIONS.iter().enumerate() {
            assert_eq!(spec.code as usize, index, "{spec:?}");
            assert_eq!(condition_named(spec.name), Some(spec));
        }
    }

    #[test]
    fn argument_shapes_spell_and_admit() {
        let set = op_named("set").unwrap().args;
        assert_eq!(set.spelling(), "t?m");
        assert!(set.admits(1) && set.admits(2) && !set.admits(0) && !set.admits(3));
        assert_eq!(set.kind(1), TtlMs);
        let zadd = op_named("zadd").unwrap().args;
        assert_eq!(zadd.spelling(), "*st");
        assert!(zadd.admits(4) && !zadd.admits(3));
        assert_eq!((zadd.kind(2), zadd.kind(3)), (Score, Text));
    }
}
