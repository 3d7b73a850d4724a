//! The guest's half of the packed form: a batch out ([`encode_batch`]),
//! its reply in ([`decode_reply`]). What crosses `kv.execute`, in the
//! calling convention of `redis/kv_batch.lua`, so that a host only
//! prefixes the keys and runs the script (no host knows an op):
//!
//! - `keys`: every key the batch touches, each once, joined by `\n` (empty
//!   for none). They become the script's KEYS.
//! - `batch`: JSON `[writes, [condition, ...], [op, ...]]`. `writes` is `1`
//!   when an op of the batch writes (the table's `writes`), else `0`; so a
//!   packed batch that writes starts with `[1,` and one that only reads
//!   with `[0,` ([`batch_writes`]), and a host that waits for replicas
//!   after writes reads nothing else of it. Both backends refuse a batch
//!   whose flag is not what its ops say. Each entry is
//!   `["code", key number, arg, ...]` with the code and the arguments'
//!   shape from the [`table`](crate::table), the key number 1-based into
//!   `keys` (0 for `scan`, whose pattern is an argument, not a key) and
//!   every argument a string.
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
//! - `[4, message]`: the batch breaks a rule of [`crate::rules`].

use std::collections::HashMap;

use serde_json::Value;

use crate::json::{bound_text, integer, invalid, list, optional_text, push_json_string, text, texts};
use crate::table::ReplyShape;
use crate::{Batch, BatchOutcome, Condition, KvError, Op, Reply, ScanPage};

/// What joins the packed batches (and their keys, and their replies) of
/// `kv.execute-each`: U+001E, which no key, JSON text or reply holds raw.
pub const BATCH_SEPARATOR: char = '\u{1e}';

/// A batch as `kv.execute` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackedBatch {
    pub keys: String,
    pub batch: String,
}

/// Whether a packed batch writes: its flag, the one thing a host reads of
/// it (to send `WAIT` after a write).
pub fn batch_writes(batch: &str) -> bool {
    batch.starts_with("[1")
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

/// Packs a batch for `kv.execute`.
pub fn encode_batch(batch: &Batch) -> Result<PackedBatch, KvError> {
    let mut e = Encoder { keys: Vec::new(), numbers: HashMap::new(), json: String::with_capacity(256) };
    e.json.push_str(if batch.ops.iter().any(Op::is_write) { "[1,[" } else { "[0,[" });
    for condition in &batch.conditions {
        e.entry(condition.code().spec().name, Some(condition.key()))?;
        match condition {
            Condition::KeyExists(_) | Condition::KeyMissing(_) => {}
            Condition::FieldEquals { field, value, .. } => {
                e.arg(field);
                e.arg(value);
            }
            Condition::FieldMissing { field, .. } => e.arg(field),
            Condition::ListLength { min, max, .. } => {
                e.arg_display(min);
                e.arg_display(max);
            }
        }
        e.end();
    }
    e.json.push_str("],[");
    for op in &batch.ops {
        // A pattern is not a key: key number 0, the pattern an argument
        // that the script prefixes.
        let key = (!matches!(op, Op::KeyScan(_))).then(|| op.key());
        e.entry(op.spec().name, key)?;
        match op {
            Op::HashGetAll(_)
            | Op::Exists(_)
            | Op::TtlMs(_)
            | Op::Delete(_)
            | Op::SetSize(_)
            | Op::SortedSize(_)
            | Op::ListPopLast(_)
            | Op::ListLength(_) => {}
            Op::HashGet { field, .. } => e.arg(field),
            Op::SortedScore { member, .. } | Op::SetContains { member, .. } => e.arg(member),
            Op::HashGetFields { fields: texts, .. }
            | Op::HashDelete { fields: texts, .. }
            | Op::SetAdd { members: texts, .. }
            | Op::SetRemove { members: texts, .. }
            | Op::SortedRemove { members: texts, .. }
            | Op::ListPush { values: texts, .. } => texts.iter().for_each(|text| e.arg(text)),
            Op::HashSet { fields, .. } => {
                for (field, value) in fields {
                    e.arg(field);
                    e.arg(value);
                }
            }
            Op::HashIncrement { field, delta, .. } => {
                e.arg(field);
                e.arg_display(delta);
            }
            Op::StringSet { value, ttl_ms, .. } => {
                e.arg(value);
                if let Some(ms) = ttl_ms {
                    e.arg_display(ms);
                }
            }
            Op::Expire { ttl_ms, .. } => e.arg_display(ttl_ms),
            Op::SetScan(scan) | Op::SortedScan(scan) => {
                e.arg(&scan.cursor);
                e.arg_display(scan.count);
            }
            Op::SortedAdd { members, .. } => {
                for (score, member) in members {
                    e.arg_display(score);
                    e.arg(member);
                }
            }
            // Redis ranks are signed 64-bit; no set is that large anyway.
            Op::SortedRangeDesc { start, stop, .. } => {
                e.arg_display((*start).min(i64::MAX as u64));
                e.arg_display((*stop).min(i64::MAX as u64));
            }
            Op::SortedRangeByScoreDesc { max, min, limit, .. } => {
                e.arg(&bound_text(max));
                e.arg(&bound_text(min));
                if let Some((offset, count)) = limit {
                    e.arg_display((*offset).min(i64::MAX as u64));
                    e.arg_display((*count).min(i64::MAX as u64));
                }
            }
            Op::KeyScan(scan) => {
                e.arg(&scan.cursor);
                e.arg(&scan.pattern);
                e.arg_display(scan.count);
            }
            Op::ListRangeTail { start, stop, max_bytes, .. } => {
                e.arg_display(start);
                e.arg_display(stop);
                e.arg_display(max_bytes);
            }
            Op::ListTrim { start, stop, .. } => {
                e.arg_display(start);
                e.arg_display(stop);
            }
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

/// The reply to `op`, read by the shape the table gives it.
fn reply_of(op: &Op, value: Value) -> Option<Reply> {
    Some(match op.spec().reply {
        ReplyShape::Fields => {
            let mut flat = texts(value)?.into_iter();
            let mut fields = Vec::with_capacity(flat.len() / 2);
            while let Some(field) = flat.next() {
                fields.push((field, flat.next()?));
            }
            Reply::Fields(fields)
        }
        ReplyShape::Text => Reply::Text(optional_text(value)?),
        ReplyShape::Values => Reply::Values(list(value)?.into_iter().map(optional_text).collect::<Option<_>>()?),
        ReplyShape::Scored => {
            let mut flat = texts(value)?.into_iter();
            let mut scored = Vec::with_capacity(flat.len() / 2);
            while let Some(member) = flat.next() {
                scored.push((member, flat.next()?.parse().ok()?));
            }
            Reply::Scored(scored)
        }
        ReplyShape::Scan => {
            let mut page = list(value)?.into_iter();
            let cursor = page.next().and_then(text)?;
            let members = texts(page.next()?)?;
            Reply::Scan(ScanPage { cursor, members })
        }
        ReplyShape::ListTail => {
            let mut tail = list(value)?.into_iter();
            let left_out = tail.next().and_then(|n| integer(&n)).and_then(|n| u64::try_from(n).ok())?;
            let items = texts(tail.next()?)?;
            if tail.next().is_some() {
                return None;
            }
            Reply::ListTail { left_out, items }
        }
        ReplyShape::Integer => Reply::Integer(integer(&value)?),
    })
}
