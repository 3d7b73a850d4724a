//! The packed form of a batch and of its reply: what crosses `kv.execute`.
//!
//! A batch travels as two strings, in the calling convention of
//! `redis/kv_batch.lua`, so that a host only prefixes the keys and runs the
//! script (no host knows an op):
//!
//! - `keys`: every key the batch touches, each once, joined by `\n` (empty
//!   for none). They become the script's KEYS.
//! - `batch`: JSON `[[condition, ...], [op, ...]]`; each entry is
//!   `["code", key number, arg, ...]` with the key number 1-based into
//!   `keys` (0 for `scan`, whose pattern is an argument, not a key) and every
//!   argument a string.
//!
//! The reply is one JSON text:
//!
//! - `[1, reply, ...]`: applied, one reply per op (integers as numbers,
//!   missing values as `false`, hashes as flat `[field, value, ...]` arrays,
//!   scans as `[cursor, [member, ...]]`; an empty array may come as `{}`,
//!   which is how Redis' cjson writes an empty table);
//! - `[0, condition index, actual or false]`: a condition failed;
//! - `[2, key, message]`: a key holds another type than an op needs (or a
//!   field HINCRBY would fail on); nothing was written;
//! - `[4, message]`: the batch breaks a rule of [`super::rules`].
//!
//! The guest uses [`encode_batch`] and [`decode_reply`]; a backend that is
//! not the Lua script (the in-memory store) uses [`decode_batch`] and
//! [`encode_reply`].

use std::collections::HashMap;

use serde_json::Value;

use super::{
    Batch, BatchOutcome, Condition, ErrorKind, KeyScanRequest, KvError, Op, Reply, ScanPage, ScanRequest, ScoreBound,
};

/// What joins the packed batches (and their keys, and their replies) of
/// `kv.execute-each`: U+001E, which no key, JSON text or reply holds raw.
pub const BATCH_SEPARATOR: char = '\u{1e}';

/// A batch as `kv.execute` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackedBatch {
    pub keys: String,
    pub batch: String,
}

fn invalid(message: impl Into<String>) -> KvError {
    KvError::new(ErrorKind::InvalidBatch, message)
}

/// Builds `keys` (each key once) and the JSON of the entries.
struct Encoder<'a> {
    keys: Vec<&'a str>,
    /// Key numbers by key, once a batch names more keys than a scan suits.
    numbers: HashMap<&'a str, usize>,
    json: String,
}

impl<'a> Encoder<'a> {
    const SCAN_LIMIT: usize = 16;

    fn key_number(&mut self, key: &'a str) -> Result<usize, KvError> {
        if self.keys.len() <= Self::SCAN_LIMIT {
            if let Some(position) = self.keys.iter().position(|k| *k == key) {
                return Ok(position + 1);
            }
        } else {
            if self.numbers.is_empty() {
                self.numbers.extend(self.keys.iter().enumerate().map(|(i, k)| (*k, i + 1)));
            }
            if let Some(number) = self.numbers.get(key) {
                return Ok(*number);
            }
            self.numbers.insert(key, self.keys.len() + 1);
        }
        if key.contains('\n') {
            return Err(invalid(format!("key {key:?} holds a line break; keys travel one per line")));
        }
        self.keys.push(key);
        Ok(self.keys.len())
    }

    fn string(&mut self, text: &str) {
        push_json_string(&mut self.json, text);
    }

    /// Starts an entry `["code", key number`; arguments follow with `arg`.
    fn entry(&mut self, code: &str, key: Option<&'a str>) -> Result<(), KvError> {
        let number = match key {
            Some(key) => self.key_number(key)?,
            None => 0,
        };
        if !self.json.ends_with('[') {
            self.json.push(',');
        }
        self.json.push_str("[\"");
        self.json.push_str(code);
        self.json.push_str("\",");
        self.json.push_str(&number.to_string());
        Ok(())
    }

    fn arg(&mut self, text: &str) {
        self.json.push(',');
        self.string(text);
    }

    fn arg_display(&mut self, value: impl std::fmt::Display) {
        self.json.push_str(",\"");
        self.json.push_str(&value.to_string());
        self.json.push('"');
    }

    fn end(&mut self) {
        self.json.push(']');
    }
}

/// Appends `text` as a JSON string.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Packs a batch for `kv.execute`.
pub fn encode_batch(batch: &Batch) -> Result<PackedBatch, KvError> {
    let mut e = Encoder { keys: Vec::new(), numbers: HashMap::new(), json: String::with_capacity(256) };
    e.json.push_str("[[");
    for condition in &batch.conditions {
        match condition {
            Condition::KeyExists(key) => e.entry("exists", Some(key))?,
            Condition::KeyMissing(key) => e.entry("missing", Some(key))?,
            Condition::FieldEquals { key, field, value } => {
                e.entry("field_eq", Some(key))?;
                e.arg(field);
                e.arg(value);
            }
            Condition::FieldMissing { key, field } => {
                e.entry("field_missing", Some(key))?;
                e.arg(field);
            }
            Condition::ListLength { key, min, max } => {
                e.entry("llen_between", Some(key))?;
                e.arg_display(min);
                e.arg_display(max);
            }
        }
        e.end();
    }
    e.json.push_str("],[");
    for op in &batch.ops {
        let key = Some(op.key());
        match op {
            Op::HashGetAll(_) => e.entry("hgetall", key)?,
            Op::HashGet { field, .. } => {
                e.entry("hget", key)?;
                e.arg(field);
            }
            Op::HashGetFields { fields, .. } => {
                e.entry("hmget", key)?;
                fields.iter().for_each(|field| e.arg(field));
            }
            Op::HashSet { fields, .. } => {
                e.entry("hset", key)?;
                for (field, value) in fields {
                    e.arg(field);
                    e.arg(value);
                }
            }
            Op::HashIncrement { field, delta, .. } => {
                e.entry("hincrby", key)?;
                e.arg(field);
                e.arg_display(delta);
            }
            Op::StringSet { value, ttl_ms, .. } => {
                e.entry("set", key)?;
                e.arg(value);
                if let Some(ms) = ttl_ms {
                    e.arg_display(ms);
                }
            }
            Op::Exists(_) => e.entry("exists", key)?,
            Op::TtlMs(_) => e.entry("pttl", key)?,
            Op::Expire { ttl_ms, .. } => {
                e.entry("pexpire", key)?;
                e.arg_display(ttl_ms);
            }
            Op::Delete(_) => e.entry("del", key)?,
            Op::SetAdd { members, .. } => {
                e.entry("sadd", key)?;
                members.iter().for_each(|member| e.arg(member));
            }
            Op::SetRemove { members, .. } => {
                e.entry("srem", key)?;
                members.iter().for_each(|member| e.arg(member));
            }
            Op::SetSize(_) => e.entry("scard", key)?,
            Op::SetScan(scan) | Op::SortedScan(scan) => {
                e.entry(if matches!(op, Op::SetScan(_)) { "sscan" } else { "zscan" }, key)?;
                e.arg(&scan.cursor);
                e.arg_display(scan.count);
            }
            Op::SortedAdd { members, .. } => {
                e.entry("zadd", key)?;
                for (score, member) in members {
                    e.arg_display(score);
                    e.arg(member);
                }
            }
            Op::SortedRemove { members, .. } => {
                e.entry("zrem", key)?;
                members.iter().for_each(|member| e.arg(member));
            }
            Op::SortedSize(_) => e.entry("zcard", key)?,
            Op::SortedScore { member, .. } => {
                e.entry("zscore", key)?;
                e.arg(member);
            }
            // Redis ranks are signed 64-bit; no set is that large anyway.
            Op::SortedRangeDesc { start, stop, .. } => {
                e.entry("zrevrange", key)?;
                e.arg_display((*start).min(i64::MAX as u64));
                e.arg_display((*stop).min(i64::MAX as u64));
            }
            Op::SortedRangeByScoreDesc { max, min, limit, .. } => {
                e.entry("zrevrangebyscore", key)?;
                e.arg(&bound_text(max));
                e.arg(&bound_text(min));
                if let Some((offset, count)) = limit {
                    e.arg_display((*offset).min(i64::MAX as u64));
                    e.arg_display((*count).min(i64::MAX as u64));
                }
            }
            Op::SetContains { member, .. } => {
                e.entry("sismember", key)?;
                e.arg(member);
            }
            // A pattern is not a key: key number 0, the pattern an argument
            // that the script prefixes.
            Op::KeyScan(scan) => {
                e.entry("scan", None)?;
                e.arg(&scan.cursor);
                e.arg(&scan.pattern);
                e.arg_display(scan.count);
            }
            Op::HashDelete { fields, .. } => {
                e.entry("hdel", key)?;
                fields.iter().for_each(|field| e.arg(field));
            }
            Op::ListPush { values, .. } => {
                e.entry("rpush", key)?;
                values.iter().for_each(|value| e.arg(value));
            }
            // The only signed integers of the format: Redis list indexes.
            Op::ListRangeTail { start, stop, max_bytes, .. } => {
                e.entry("lrange", key)?;
                e.arg_display(start);
                e.arg_display(stop);
                e.arg_display(max_bytes);
            }
            Op::ListPopLast(_) => e.entry("rpop", key)?,
            Op::ListTrim { start, stop, .. } => {
                e.entry("ltrim", key)?;
                e.arg_display(start);
                e.arg_display(stop);
            }
            Op::ListLength(_) => e.entry("llen", key)?,
        }
        e.end();
    }
    e.json.push_str("]]");
    Ok(PackedBatch { keys: e.keys.join("\n"), batch: e.json })
}

/// Reads the reply of `kv.execute` for `batch`.
pub fn decode_reply(batch: &Batch, reply: &str) -> Result<BatchOutcome, KvError> {
    let bad = |what: &str| invalid(format!("storage sent a malformed reply ({what}): {}", shorten(reply)));
    let value: Value = serde_json::from_str(reply).map_err(|e| bad(&e.to_string()))?;
    let Value::Array(items) = value else { return Err(bad("not an array")) };
    let mut items = items.into_iter();
    let tag = items.next().and_then(|tag| integer(&tag)).ok_or_else(|| bad("no outcome code"))?;
    match tag {
        1 => {
            if items.len() != batch.ops.len() {
                return Err(bad(&format!("{} replies for {} ops", items.len(), batch.ops.len())));
            }
            batch
                .ops
                .iter()
                .zip(items)
                .map(|(op, value)| reply_of(op, value).ok_or_else(|| bad(&format!("reply to {op:?}"))))
                .collect::<Result<_, _>>()
                .map(BatchOutcome::Applied)
        }
        0 => {
            let index = items.next().and_then(|v| integer(&v)).ok_or_else(|| bad("condition index"))?;
            let index = u32::try_from(index).map_err(|_| bad("condition index"))?;
            let actual = items.next().map(optional_text).ok_or_else(|| bad("condition value"))?;
            Ok(BatchOutcome::ConditionFailed { index, actual: actual.ok_or_else(|| bad("condition value"))? })
        }
        2 => {
            let key = items.next().and_then(text).ok_or_else(|| bad("wrong-type key"))?;
            let message = items.next().and_then(text).unwrap_or_default();
            Err(KvError::wrong_type(key, message))
        }
        4 => Err(invalid(items.next().and_then(text).unwrap_or_else(|| "the batch was refused".into()))),
        _ => Err(bad("unknown outcome code")),
    }
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short
}

/// cjson writes whole numbers beyond 10^14 in exponent form.
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.3e18).map(|f| f as i64))
}

/// A score bound as Redis reads it: `12`, `(12` (exclusive), `+inf`, `-inf`.
fn bound_text(bound: &ScoreBound) -> String {
    let score = score_text(bound.score);
    if bound.exclusive { format!("({score}") } else { score }
}

/// A score as Redis writes it: integers without a fraction, `inf`, `-inf`.
fn score_text(score: f64) -> String {
    if score == f64::INFINITY {
        "+inf".to_owned()
    } else if score == f64::NEG_INFINITY {
        "-inf".to_owned()
    } else {
        score.to_string()
    }
}

/// The bound `text` stands for: `(` makes it exclusive; `inf`, `+inf` and
/// `-inf` are the infinities; anything else must be a number.
fn parse_bound(text: &str) -> Option<ScoreBound> {
    let (exclusive, number) = match text.strip_prefix('(') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let score = match number {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => number.parse::<f64>().ok().filter(|score| score.is_finite())?,
    };
    Some(ScoreBound { score, exclusive })
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// `Some(None)` for `false`/`null` (missing), `None` when malformed.
fn optional_text(value: Value) -> Option<Option<String>> {
    match value {
        Value::String(text) => Some(Some(text)),
        Value::Bool(false) | Value::Null => Some(None),
        _ => None,
    }
}

/// An array, or the `{}` cjson writes for an empty one.
fn list(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) if map.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

fn texts(value: Value) -> Option<Vec<String>> {
    list(value)?.into_iter().map(text).collect()
}

fn reply_of(op: &Op, value: Value) -> Option<Reply> {
    Some(match op {
        Op::HashGetAll(_) => {
            let mut flat = texts(value)?.into_iter();
            let mut fields = Vec::with_capacity(flat.len() / 2);
            while let Some(field) = flat.next() {
                fields.push((field, flat.next()?));
            }
            Reply::Fields(fields)
        }
        Op::HashGet { .. } | Op::SortedScore { .. } | Op::ListPopLast(_) => Reply::Text(optional_text(value)?),
        Op::HashGetFields { .. } => Reply::Values(list(value)?.into_iter().map(optional_text).collect::<Option<_>>()?),
        Op::SortedRangeDesc { .. } | Op::SortedRangeByScoreDesc { .. } => {
            let mut flat = texts(value)?.into_iter();
            let mut scored = Vec::with_capacity(flat.len() / 2);
            while let Some(member) = flat.next() {
                scored.push((member, flat.next()?.parse().ok()?));
            }
            Reply::Scored(scored)
        }
        Op::SetScan(_) | Op::SortedScan(_) | Op::KeyScan(_) => {
            let mut page = list(value)?.into_iter();
            let cursor = page.next().and_then(text)?;
            let members = texts(page.next()?)?;
            Reply::Scan(ScanPage { cursor, members })
        }
        Op::ListRangeTail { .. } => {
            let mut tail = list(value)?.into_iter();
            let left_out = tail.next().and_then(|n| integer(&n)).and_then(|n| u64::try_from(n).ok())?;
            let items = texts(tail.next()?)?;
            if tail.next().is_some() {
                return None;
            }
            Reply::ListTail { left_out, items }
        }
        _ => Reply::Integer(integer(&value)?),
    })
}

/// Unpacks a batch, for a backend that applies it itself. `keys` are the
/// lines of the packed `keys` (already prefixed if the backend prefixes).
pub fn decode_batch(keys: &[String], batch: &str) -> Result<Batch, KvError> {
    let value: Value = serde_json::from_str(batch).map_err(|e| invalid(format!("the batch is not JSON: {e}")))?;
    let parts = list(value).ok_or_else(|| invalid("the batch is not [conditions, ops]"))?;
    let [conditions, ops]: [Value; 2] = parts.try_into().map_err(|_| invalid("the batch is not [conditions, ops]"))?;
    let conditions = list(conditions).ok_or_else(|| invalid("conditions are not an array"))?;
    let ops = list(ops).ok_or_else(|| invalid("ops are not an array"))?;
    let mut batch = Batch { conditions: Vec::with_capacity(conditions.len()), ops: Vec::with_capacity(ops.len()) };
    for (index, entry) in conditions.into_iter().enumerate() {
        let Entry { code, key, args } = Entry::read(entry, keys, index)?;
        let key = key.ok_or_else(|| invalid(format!("condition {index} names no key")))?;
        let count =
            |text: &str| digits(text).ok_or_else(|| invalid(format!("condition {index}: {text:?} is not a count")));
        batch.conditions.push(match (code.as_str(), args.as_slice()) {
            ("exists", []) => Condition::KeyExists(key),
            ("missing", []) => Condition::KeyMissing(key),
            ("field_eq", [field, value]) => Condition::FieldEquals { key, field: field.clone(), value: value.clone() },
            ("field_missing", [field]) => Condition::FieldMissing { key, field: field.clone() },
            ("llen_between", [min, max]) => Condition::ListLength { key, min: count(min)?, max: count(max)? },
            _ => return Err(invalid(format!("condition {index}: unknown condition {code} with {} args", args.len()))),
        });
    }
    for (index, entry) in ops.into_iter().enumerate() {
        let Entry { code, key, mut args } = Entry::read(entry, keys, index)?;
        let bad = || invalid(format!("op {index}: unknown op {code} with {} args", args.len()));
        let number =
            |text: &str| text.parse::<u64>().map_err(|_| invalid(format!("op {index}: {text:?} is not a count")));
        // Redis reads an index only in its plain form: `0`, or an optional
        // `-` and digits without a leading zero, within 64 bits; the script
        // checks the same, so that Redis never fails on one mid-batch.
        let signed = |text: &str| {
            text.parse::<i64>()
                .ok()
                .filter(|n| n.to_string() == text)
                .ok_or_else(|| invalid(format!("op {index}: {text:?} is not an integer")))
        };
        let op = match (code.as_str(), key) {
            ("scan", None) if args.len() == 3 => {
                let count = u32::try_from(number(&args[2])?).unwrap_or(u32::MAX);
                Op::KeyScan(KeyScanRequest { pattern: args[1].clone(), cursor: args[0].clone(), count })
            }
            (_, None) => return Err(invalid(format!("op {index} names no key"))),
            (code, Some(key)) => match (code, args.len()) {
                ("hgetall", 0) => Op::HashGetAll(key),
                ("hget", 1) => Op::HashGet { key, field: args.remove(0) },
                ("hmget", _) => Op::HashGetFields { key, fields: args },
                ("hset", n) if n % 2 == 0 => Op::HashSet { key, fields: pairs(args) },
                ("hincrby", 2) => {
                    let delta =
                        args[1].parse().map_err(|_| invalid(format!("op {index}: {:?} is not an integer", args[1])))?;
                    Op::HashIncrement { key, field: args.remove(0), delta }
                }
                ("set", 1) => Op::StringSet { key, value: args.remove(0), ttl_ms: None },
                ("set", 2) => Op::StringSet { ttl_ms: Some(number(&args[1])?), key, value: args.remove(0) },
                ("exists", 0) => Op::Exists(key),
                ("pttl", 0) => Op::TtlMs(key),
                ("pexpire", 1) => Op::Expire { ttl_ms: number(&args[0])?, key },
                ("del", 0) => Op::Delete(key),
                ("sadd", _) => Op::SetAdd { key, members: args },
                ("srem", _) => Op::SetRemove { key, members: args },
                ("scard", 0) => Op::SetSize(key),
                ("sscan" | "zscan", 2) => {
                    let count = u32::try_from(number(&args[1])?).unwrap_or(u32::MAX);
                    let request = ScanRequest { key, cursor: args.remove(0), count };
                    if code == "sscan" { Op::SetScan(request) } else { Op::SortedScan(request) }
                }
                ("zadd", n) if n % 2 == 0 => {
                    let members = pairs(args)
                        .into_iter()
                        .map(|(score, member)| match score.parse::<f64>() {
                            Ok(score) => Ok((score, member)),
                            Err(_) => Err(invalid(format!("op {index}: score {score:?} is not a number"))),
                        })
                        .collect::<Result<_, _>>()?;
                    Op::SortedAdd { key, members }
                }
                ("zrem", _) => Op::SortedRemove { key, members: args },
                ("zcard", 0) => Op::SortedSize(key),
                ("zscore", 1) => Op::SortedScore { key, member: args.remove(0) },
                ("zrevrange", 2) => Op::SortedRangeDesc { start: number(&args[0])?, stop: number(&args[1])?, key },
                ("zrevrangebyscore", 2 | 4) => {
                    let bound = |text: &str| {
                        parse_bound(text).ok_or_else(|| invalid(format!("op {index}: {text:?} is not a score bound")))
                    };
                    Op::SortedRangeByScoreDesc {
                        max: bound(&args[0])?,
                        min: bound(&args[1])?,
                        limit: match args.get(2..4) {
                            Some([offset, count]) => Some((number(offset)?, number(count)?)),
                            _ => None,
                        },
                        key,
                    }
                }
                ("sismember", 1) => Op::SetContains { key, member: args.remove(0) },
                ("hdel", _) => Op::HashDelete { key, fields: args },
                ("rpush", _) => Op::ListPush { key, values: args },
                ("lrange", 3) => Op::ListRangeTail {
                    start: signed(&args[0])?,
                    stop: signed(&args[1])?,
                    max_bytes: digits(&args[2])
                        .ok_or_else(|| invalid(format!("op {index}: {:?} is not a count", args[2])))?,
                    key,
                },
                ("rpop", 0) => Op::ListPopLast(key),
                ("ltrim", 2) => Op::ListTrim { start: signed(&args[0])?, stop: signed(&args[1])?, key },
                ("llen", 0) => Op::ListLength(key),
                _ => return Err(bad()),
            },
        };
        batch.ops.push(op);
    }
    Ok(batch)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Batch {
        Batch::new()
            .condition(Condition::KeyExists("session_expiry:a".into()))
            .condition(Condition::FieldEquals { key: "m".into(), field: "version".into(), value: "3".into() })
            .op(Op::HashSet { key: "m".into(), fields: vec![("f".into(), "line\n\"quoted\" \u{1} é".into())] })
            .op(Op::HashIncrement { key: "m".into(), field: "version".into(), delta: -2 })
            .op(Op::StringSet { key: "session_expiry:a".into(), value: String::new(), ttl_ms: Some(3_600_000) })
            .op(Op::SortedAdd { key: "z".into(), members: vec![(1_750_000_000_123.0, "a".into()), (0.5, "b".into())] })
            .op(Op::SortedRangeDesc { key: "z".into(), start: 0, stop: u64::MAX })
            .op(Op::KeyScan(KeyScanRequest { pattern: "session:*".into(), cursor: "0".into(), count: 10 }))
            .op(Op::SetScan(ScanRequest { key: "s".into(), cursor: "17".into(), count: 250 }))
            .op(Op::HashGetFields { key: "m".into(), fields: vec!["a".into(), "b".into()] })
            .op(Op::SortedRangeByScoreDesc {
                key: "z".into(),
                max: ScoreBound::exclusive(1_750_000_000_123.0),
                min: ScoreBound::inclusive(f64::NEG_INFINITY),
                limit: Some((1000, 10)),
            })
    }

    #[test]
    fn a_batch_survives_packing() {
        let batch = sample();
        let packed = encode_batch(&batch).unwrap();
        assert_eq!(packed.keys, "session_expiry:a\nm\nz\ns");
        let keys: Vec<String> = packed.keys.split('\n').map(str::to_owned).collect();
        let mut expected = batch.clone();
        if let Op::SortedRangeDesc { stop, .. } = &mut expected.ops[4] {
            *stop = i64::MAX as u64;
        }
        assert_eq!(decode_batch(&keys, &packed.batch).unwrap(), expected);
    }

    #[test]
    fn replies_survive_packing() {
        let batch = sample();
        let replies = vec![
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Integer(2),
            Reply::Scored(vec![("a".into(), 1_750_000_000_123.0), ("b".into(), 0.5)]),
            Reply::Scan(ScanPage { cursor: "0".into(), members: vec!["session:x".into()] }),
            Reply::Scan(ScanPage { cursor: "0".into(), members: vec![] }),
            Reply::Values(vec![Some("1".into()), None]),
            Reply::Scored(vec![]),
        ];
        let outcome = Ok(BatchOutcome::Applied(replies));
        assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
        let failed = Ok(BatchOutcome::ConditionFailed { index: 1, actual: Some("4".into()) });
        assert_eq!(decode_reply(&batch, &encode_reply(&failed)), failed);
        let wrong = Err(KvError::wrong_type("m", "the key holds a set, not a hash"));
        assert_eq!(decode_reply(&batch, &encode_reply(&wrong)), wrong);
    }

    #[test]
    fn cjson_forms_are_read() {
        let batch = Batch::new().op(Op::HashGetAll("h".into())).op(Op::TtlMs("k".into()));
        assert_eq!(
            decode_reply(&batch, "[1,{},1e+15]"),
            Ok(BatchOutcome::Applied(vec![Reply::Fields(vec![]), Reply::Integer(1_000_000_000_000_000)]))
        );
    }

    #[test]
    fn malformed_replies_are_invalid_batches_not_panics() {
        let batch = Batch::new().op(Op::Exists("k".into()));
        for reply in ["", "{}", "[]", "[1]", "[1,\"x\"]", "[0]", "[7]", "[2]", "[1,1,2]"] {
            assert_eq!(decode_reply(&batch, reply).unwrap_err().kind, ErrorKind::InvalidBatch, "{reply}");
        }
    }

    #[test]
    fn malformed_batches_are_refused() {
        let keys = vec!["k".to_owned()];
        for batch in
            ["", "[]", "[[],[[\"nope\",1]]]", "[[],[[\"exists\",2]]]", "[[],[[\"exists\",0]]]", "[[[\"exists\"]],[]]"]
        {
            assert_eq!(decode_batch(&keys, batch).unwrap_err().kind, ErrorKind::InvalidBatch, "{batch}");
        }
    }

    fn list_sample() -> Batch {
        Batch::new()
            .condition(Condition::ListLength { key: "l".into(), min: 0, max: u64::MAX })
            .condition(Condition::ListLength { key: "l".into(), min: 1, max: 1000 })
            .op(Op::ListPush { key: "l".into(), values: vec!["{\"role\":\"user\"}".into(), "line\n\"two\" é".into()] })
            .op(Op::ListTrim { key: "l".into(), start: i64::MIN, stop: -1 })
            .op(Op::ListRangeTail { key: "l".into(), start: -20, stop: i64::MAX, max_bytes: 4 << 20 })
            .op(Op::ListPopLast("l".into()))
            .op(Op::ListLength("l".into()))
            .op(Op::HashDelete { key: "h".into(), fields: vec!["a".into(), "b".into()] })
            .op(Op::ListRangeTail { key: "l".into(), start: 0, stop: 0, max_bytes: 1 })
    }

    #[test]
    fn list_batches_survive_packing() {
        let batch = list_sample();
        let packed = encode_batch(&batch).unwrap();
        assert_eq!(packed.keys, "l\nh");
        assert!(packed.batch.starts_with(r#"[[["llen_between",1,"0","18446744073709551615"],"#), "{}", packed.batch);
        assert!(packed.batch.contains(r#"["ltrim",1,"-9223372036854775808","-1"]"#), "{}", packed.batch);
        assert!(packed.batch.contains(r#"["lrange",1,"-20","9223372036854775807","4194304"]"#), "{}", packed.batch);
        assert!(packed.batch.contains(r#"["rpop",1],["llen",1],["hdel",2,"a","b"]"#), "{}", packed.batch);
        let keys: Vec<String> = packed.keys.split('\n').map(str::to_owned).collect();
        assert_eq!(decode_batch(&keys, &packed.batch).unwrap(), batch);
    }

    #[test]
    fn list_replies_survive_packing() {
        let batch = list_sample();
        let replies = vec![
            Reply::Integer(2),
            Reply::Integer(1),
            Reply::ListTail { left_out: 3, items: vec!["{\"role\":\"user\"}".into(), "line\n\"two\" é".into()] },
            Reply::Text(Some("line\n\"two\" é".into())),
            Reply::Integer(1),
            Reply::Integer(2),
            Reply::ListTail { left_out: 0, items: vec![] },
        ];
        let outcome = Ok(BatchOutcome::Applied(replies));
        assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
        let mut popped_nothing = match outcome {
            Ok(BatchOutcome::Applied(replies)) => replies,
            _ => unreachable!(),
        };
        popped_nothing[3] = Reply::Text(None);
        let outcome = Ok(BatchOutcome::Applied(popped_nothing));
        assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
        let failed = Ok(BatchOutcome::ConditionFailed { index: 1, actual: Some("0".into()) });
        assert_eq!(decode_reply(&batch, &encode_reply(&failed)), failed);
        let wrong = Err(KvError::wrong_type("l", "the key holds a hash, not a list"));
        assert_eq!(decode_reply(&batch, &encode_reply(&wrong)), wrong);
    }

    #[test]
    fn list_tails_in_cjson_forms_are_read() {
        let batch = Batch::new().op(Op::ListRangeTail { key: "l".into(), start: 0, stop: -1, max_bytes: 10 });
        let tail = |left_out, items: &[&str]| {
            Ok(BatchOutcome::Applied(vec![Reply::ListTail {
                left_out,
                items: items.iter().map(|item| (*item).to_owned()).collect(),
            }]))
        };
        assert_eq!(decode_reply(&batch, "[1,[0,{}]]"), tail(0, &[]));
        assert_eq!(decode_reply(&batch, r#"[1,[2,["b","c"]]]"#), tail(2, &["b", "c"]));
        for reply in ["[1,{}]", "[1,[0]]", "[1,[-1,[]]]", "[1,[0,[],1]]", "[1,[0,[1]]]", "[1,[\"0\",[]]]", "[1,0]"] {
            assert_eq!(decode_reply(&batch, reply).unwrap_err().kind, ErrorKind::InvalidBatch, "{reply}");
        }
    }

    #[test]
    fn list_indexes_and_counts_are_read_in_their_plain_form_only() {
        let keys = vec!["l".to_owned()];
        let range = |start: &str, stop: &str, max_bytes: &str| {
            decode_batch(&keys, &format!(r#"[[],[["lrange",1,"{start}","{stop}","{max_bytes}"]]]"#))
        };
        let read =
            |start, stop, max_bytes| Ok(Batch::new().op(Op::ListRangeTail { key: "l".into(), start, stop, max_bytes }));
        assert_eq!(range("0", "-1", "1"), read(0, -1, 1));
        assert_eq!(range("-9223372036854775808", "9223372036854775807", "0"), read(i64::MIN, i64::MAX, 0));
        // Beyond 64 bits a count saturates, as the script's numbers do.
        assert_eq!(range("1", "2", "99999999999999999999999"), read(1, 2, u64::MAX));
        for (start, message) in [
            ("+1", r#"op 0: "+1" is not an integer"#),
            ("01", r#"op 0: "01" is not an integer"#),
            ("-0", r#"op 0: "-0" is not an integer"#),
            ("1.5", r#"op 0: "1.5" is not an integer"#),
            ("", r#"op 0: "" is not an integer"#),
            ("9223372036854775808", r#"op 0: "9223372036854775808" is not an integer"#),
            ("-9223372036854775809", r#"op 0: "-9223372036854775809" is not an integer"#),
        ] {
            assert_eq!(range(start, "-1", "5").unwrap_err().message, message, "{start}");
        }
        for max_bytes in ["-1", "+1", "", "1e3"] {
            assert_eq!(
                range("0", "-1", max_bytes).unwrap_err().message,
                format!("op 0: {max_bytes:?} is not a count"),
                "{max_bytes}"
            );
        }
        let condition = |min: &str, max: &str| {
            decode_batch(&keys, &format!(r#"[[["llen_between",1,"{min}","{max}"]],[]]"#)).map_err(|e| e.message)
        };
        assert_eq!(
            condition("0", "7"),
            Ok(Batch::new().condition(Condition::ListLength { key: "l".into(), min: 0, max: 7 }))
        );
        assert_eq!(condition("-1", "7"), Err(r#"condition 0: "-1" is not a count"#.to_owned()));
        assert_eq!(condition("0", "x"), Err(r#"condition 0: "x" is not a count"#.to_owned()));
        for (batch, message) in [
            (r#"[[],[["ltrim",1,"0"]]]"#, "op 0: unknown op ltrim with 1 args"),
            (r#"[[],[["ltrim",1,"0","01"]]]"#, r#"op 0: "01" is not an integer"#),
            (r#"[[],[["lrange",1,"0","1"]]]"#, "op 0: unknown op lrange with 2 args"),
            (r#"[[],[["rpop",1,"2"]]]"#, "op 0: unknown op rpop with 1 args"),
            (r#"[[],[["llen",1,"x"]]]"#, "op 0: unknown op llen with 1 args"),
            (r#"[[["llen_between",1,"0"]],[]]"#, "condition 0: unknown condition llen_between with 1 args"),
        ] {
            assert_eq!(decode_batch(&keys, batch).unwrap_err().message, message, "{batch}");
        }
    }

    #[test]
    fn keys_with_line_breaks_cannot_be_packed() {
        let batch = Batch::new().op(Op::Exists("a\nb".into()));
        assert_eq!(encode_batch(&batch).unwrap_err().kind, ErrorKind::InvalidBatch);
    }
}
