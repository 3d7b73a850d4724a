//! The backends' half of the packed form: a batch in ([`decode_batch`]),
//! its reply out ([`encode_reply`]), for a backend that applies batches
//! itself instead of running `redis/kv_batch.lua` (the host's in-memory
//! store). It reads entries by the [`table`](crate::table): an unknown
//! code, a count of arguments that does not fit the op's shape, or an
//! argument not of its kind is refused, in the script's words. The format
//! is described in [`crate::pack`].

use serde_json::Value;

use crate::json::{invalid, list, parse_bound, score_text, text};
use crate::table::{self, Arg, ConditionCode, OpCode};
use crate::{Batch, BatchOutcome, Condition, ErrorKind, KeyScanRequest, KvError, Op, Reply, ScanRequest};

/// Unpacks a batch, for a backend that applies it itself. `keys` are the
/// lines of the packed `keys` (already prefixed if the backend prefixes).
pub fn decode_batch(keys: &[String], batch: &str) -> Result<Batch, KvError> {
    let value: Value = serde_json::from_str(batch).map_err(|e| invalid(format!("the batch is not JSON: {e}")))?;
    let not_a_batch = || invalid("the batch is not [writes, conditions, ops]");
    let parts = list(value).ok_or_else(not_a_batch)?;
    let [flag, conditions, ops]: [Value; 3] = parts.try_into().map_err(|_| not_a_batch())?;
    let says_writes = match flag.as_u64() {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(not_a_batch()),
    };
    let conditions = list(conditions).ok_or_else(|| invalid("conditions are not an array"))?;
    let ops = list(ops).ok_or_else(|| invalid("ops are not an array"))?;
    let mut batch = Batch { conditions: Vec::with_capacity(conditions.len()), ops: Vec::with_capacity(ops.len()) };
    for (index, entry) in conditions.into_iter().enumerate() {
        let Entry { code, key, args } = Entry::read(entry, keys, index)?;
        let key = key.ok_or_else(|| invalid(format!("condition {index} names no key")))?;
        let spec = table::condition_named(&code)
            .filter(|spec| spec.args.len() == args.len())
            .ok_or_else(|| invalid(format!("condition {index}: unknown condition {code} with {} args", args.len())))?;
        let mut args = Args::read(args, |position| spec.args[position], &format!("condition {index}"))?;
        batch.conditions.push(match spec.code {
            ConditionCode::KeyExists => Condition::KeyExists(key),
            ConditionCode::KeyMissing => Condition::KeyMissing(key),
            ConditionCode::FieldEquals => Condition::FieldEquals { key, field: args.text(0), value: args.text(1) },
            ConditionCode::FieldMissing => Condition::FieldMissing { key, field: args.text(0) },
            ConditionCode::ListLength => Condition::ListLength { key, min: args.count(0), max: args.count(1) },
        });
    }
    for (index, entry) in ops.into_iter().enumerate() {
        let Entry { code, key, args } = Entry::read(entry, keys, index)?;
        let spec = table::op_named(&code)
            .filter(|spec| spec.args.admits(args.len()))
            .ok_or_else(|| invalid(format!("op {index}: unknown op {code} with {} args", args.len())))?;
        let key = match (spec.key, key) {
            (table::KeyUse::Pattern, None) => String::new(),
            (table::KeyUse::Pattern, Some(_)) | (_, None) => return Err(invalid(format!("op {index} names no key"))),
            (_, Some(key)) => key,
        };
        let mut args = Args::read(args, |position| spec.args.kind(position), &format!("op {index}"))?;
        batch.ops.push(match spec.code {
            OpCode::HashGetAll => Op::HashGetAll(key),
            OpCode::HashGet => Op::HashGet { key, field: args.text(0) },
            OpCode::HashGetFields => Op::HashGetFields { key, fields: args.all() },
            OpCode::HashSet => Op::HashSet { key, fields: pairs(args.all()) },
            OpCode::HashIncrement => Op::HashIncrement { key, field: args.text(0), delta: args.integer(1) },
            OpCode::HashDelete => Op::HashDelete { key, fields: args.all() },
            OpCode::StringSet => Op::StringSet { key, value: args.text(0), ttl_ms: args.optional_count(1) },
            OpCode::Exists => Op::Exists(key),
            OpCode::TtlMs => Op::TtlMs(key),
            OpCode::Expire => Op::Expire { key, ttl_ms: args.count(0) },
            OpCode::Delete => Op::Delete(key),
            OpCode::SetAdd => Op::SetAdd { key, members: args.all() },
            OpCode::SetRemove => Op::SetRemove { key, members: args.all() },
            OpCode::SetSize => Op::SetSize(key),
            OpCode::SetScan => Op::SetScan(ScanRequest { key, cursor: args.text(0), count: args.count32(1) }),
            OpCode::SetContains => Op::SetContains { key, member: args.text(0) },
            OpCode::SortedAdd => {
                let members = pairs(args.all())
                    .into_iter()
                    .map(|(score, member)| (score.parse::<f64>().unwrap_or(f64::NAN), member))
                    .collect();
                Op::SortedAdd { key, members }
            }
            OpCode::SortedRemove => Op::SortedRemove { key, members: args.all() },
            OpCode::SortedSize => Op::SortedSize(key),
            OpCode::SortedScore => Op::SortedScore { key, member: args.text(0) },
            OpCode::SortedRangeDesc => Op::SortedRangeDesc { key, start: args.count(0), stop: args.count(1) },
            OpCode::SortedRangeByScoreDesc => Op::SortedRangeByScoreDesc {
                key,
                max: args.bound(0),
                min: args.bound(1),
                limit: args.optional_count(2).zip(args.optional_count(3)),
            },
            OpCode::SortedScan => Op::SortedScan(ScanRequest { key, cursor: args.text(0), count: args.count32(1) }),
            OpCode::KeyScan => {
                Op::KeyScan(KeyScanRequest { cursor: args.text(0), pattern: args.text(1), count: args.count32(2) })
            }
            OpCode::ListPush => Op::ListPush { key, values: args.all() },
            OpCode::ListRangeTail => {
                Op::ListRangeTail { key, start: args.integer(0), stop: args.integer(1), max_bytes: args.count(2) }
            }
            OpCode::ListPopLast => Op::ListPopLast(key),
            OpCode::ListTrim => Op::ListTrim { key, start: args.integer(0), stop: args.integer(1) },
            OpCode::ListLength => Op::ListLength(key),
        });
    }
    let writes = batch.ops.iter().any(Op::is_write);
    if writes != says_writes {
        return Err(invalid(write_flag_message(says_writes)));
    }
    Ok(batch)
}

/// Why a batch whose write flag is not what its ops say is refused (the
/// script's words).
fn write_flag_message(says_writes: bool) -> String {
    let (flag, ops) = if says_writes { (1, "only read") } else { (0, "write") };
    format!("the batch's write flag is {flag} but its ops {ops}")
}

/// The arguments of one entry, each checked against its kind, so that
/// reading them cannot fail.
struct Args(Vec<String>);

impl Args {
    fn read(args: Vec<String>, kind: impl Fn(usize) -> Arg, entry: &str) -> Result<Self, KvError> {
        for (position, text) in args.iter().enumerate() {
            let what = match kind(position) {
                Arg::Integer if plain_integer(text).is_none() => "an integer",
                Arg::Count | Arg::TtlMs if digits(text).is_none() => "a count",
                Arg::Score if text.parse::<f64>().is_err() => {
                    return Err(invalid(format!("{entry}: score {text:?} is not a number")));
                }
                Arg::ScoreBound if parse_bound(text).is_none() => "a score bound",
                _ => continue,
            };
            return Err(invalid(format!("{entry}: {text:?} is not {what}")));
        }
        Ok(Self(args))
    }

    fn text(&mut self, position: usize) -> String {
        self.0.get_mut(position).map(std::mem::take).unwrap_or_default()
    }

    fn all(&mut self) -> Vec<String> {
        std::mem::take(&mut self.0)
    }

    fn integer(&self, position: usize) -> i64 {
        self.0.get(position).and_then(|text| plain_integer(text)).unwrap_or_default()
    }

    fn optional_count(&self, position: usize) -> Option<u64> {
        self.0.get(position).and_then(|text| digits(text))
    }

    fn count(&self, position: usize) -> u64 {
        self.optional_count(position).unwrap_or_default()
    }

    fn count32(&self, position: usize) -> u32 {
        u32::try_from(self.count(position)).unwrap_or(u32::MAX)
    }

    fn bound(&self, position: usize) -> crate::ScoreBound {
        self.0.get(position).and_then(|text| parse_bound(text)).unwrap_or(crate::ScoreBound::inclusive(0.0))
    }
}

/// Redis reads an integer only in its plain form: `0`, or an optional `-`
/// and digits without a leading zero, within 64 bits; the script checks
/// the same, so that Redis never fails on one mid-batch.
fn plain_integer(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|n| n.to_string() == text)
}

/// Digits only (as the script's `^%d+$`), read as a count; beyond `u64`
/// saturates, as the script's numbers do not fail either.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut flat = flat.into_iter();
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    while let (Some(a), Some(b)) = (flat.next(), flat.next()) {
        pairs.push((a, b));
    }
    pairs
}

struct Entry {
    code: String,
    key: Option<String>,
    args: Vec<String>,
}

impl Entry {
    fn read(entry: Value, keys: &[String], index: usize) -> Result<Self, KvError> {
        let malformed = || invalid(format!("entry {index} is not [code, key number, text, ...]"));
        let mut parts = list(entry).ok_or_else(malformed)?.into_iter();
        let code = parts.next().and_then(text).ok_or_else(malformed)?;
        let number = parts.next().and_then(|n| n.as_u64()).ok_or_else(malformed)?;
        let key = match number {
            0 => None,
            n => Some(
                keys.get(n as usize - 1)
                    .cloned()
                    .ok_or_else(|| invalid(format!("entry {index} names key {n} of {}", keys.len())))?,
            ),
        };
        let args = parts.map(text).collect::<Option<Vec<_>>>().ok_or_else(malformed)?;
        Ok(Self { code, key, args })
    }
}

/// Packs a backend's outcome as the script would. Keys in errors must
/// already be without the host's prefix.
pub fn encode_reply(outcome: &Result<BatchOutcome, KvError>) -> String {
    use serde_json::json;
    let optional = |text: &Option<String>| text.as_ref().map_or(Value::Bool(false), |t| Value::String(t.clone()));
    let value = match outcome {
        Ok(BatchOutcome::Applied(replies)) => {
            let mut items = Vec::with_capacity(replies.len() + 1);
            items.push(json!(1));
            items.extend(replies.iter().map(|reply| match reply {
                Reply::Integer(n) => json!(n),
                Reply::Text(text) => optional(text),
                Reply::Texts(texts) => json!(texts),
                Reply::Fields(fields) => Value::Array(
                    fields.iter().flat_map(|(f, v)| [Value::String(f.clone()), Value::String(v.clone())]).collect(),
                ),
                Reply::Values(values) => Value::Array(values.iter().map(optional).collect()),
                Reply::Scan(page) => json!([page.cursor, page.members]),
                Reply::Scored(members) => Value::Array(
                    members.iter().flat_map(|(member, score)| [json!(member), json!(score_text(*score))]).collect(),
                ),
                Reply::ListTail { left_out, items } => json!([left_out, items]),
            }));
            Value::Array(items)
        }
        Ok(BatchOutcome::ConditionFailed { index, actual }) => json!([0, index, optional(actual)]),
        Err(error) if error.kind == ErrorKind::WrongType => json!([2, error.key, error.message]),
        Err(error) => json!([4, error.message]),
    };
    value.to_string()
}
