//! The batch rules: what a backend refuses before touching storage. The
//! in-memory backend runs this module (after [`crate::unpack`] has checked
//! each entry against the op table); `redis/kv_batch.lua` runs the same
//! checks, with the same messages, in its pre-write pass. Nothing else
//! checks batches, so the two backends cannot drift.

use std::collections::HashMap;

use crate::{Batch, ErrorKind, KeyType, KvError, MAX_MEMBERS_PER_OP, Op};

/// Largest batch a backend accepts, in conditions plus ops.
pub const MAX_BATCH_ENTRIES: usize = 100_000;
/// Longest TTL an op may set: 100 years.
pub const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Rejects batches no backend could apply atomically: too large, empty
/// writes, TTLs out of range, bad scores, empty scans, a list read with no
/// byte budget, and one key used as two types. Backends can then rely on their up-front type checks.
pub fn check(batch: &Batch) -> Result<(), KvError> {
    let invalid = |message: String| Err(KvError::new(ErrorKind::InvalidBatch, message));
    if batch.conditions.len() + batch.ops.len() > MAX_BATCH_ENTRIES {
        return invalid(format!("a batch may hold at most {MAX_BATCH_ENTRIES} conditions and ops"));
    }
    let mut types = KeyTypes::default();
    for (index, op) in batch.ops.iter().enumerate() {
        let items = match op {
            Op::HashSet { fields, .. } => Some(fields.len()),
            Op::HashGetFields { fields, .. } | Op::HashDelete { fields, .. } => Some(fields.len()),
            Op::ListPush { values, .. } => Some(values.len()),
            Op::SetAdd { members, .. } | Op::SetRemove { members, .. } | Op::SortedRemove { members, .. } => {
                Some(members.len())
            }
            Op::SortedAdd { members, .. } => Some(members.len()),
            _ => None,
        };
        if let Some(items) = items
            && items > MAX_MEMBERS_PER_OP
        {
            return invalid(format!("op {index} names {items} items; at most {MAX_MEMBERS_PER_OP} per op"));
        }
        let ttl_ms = match op {
            Op::StringSet { ttl_ms, .. } => *ttl_ms,
            Op::Expire { ttl_ms, .. } => Some(*ttl_ms),
            _ => None,
        };
        if ttl_ms.is_some_and(|ms| !(1..=MAX_TTL_MS).contains(&ms)) {
            return invalid(format!("op {index}: a TTL must be from 1 ms to {MAX_TTL_MS} ms"));
        }
        if let Op::SortedAdd { members, .. } = op
            && members.iter().any(|(score, _)| !score.is_finite())
        {
            return invalid(format!("op {index}: scores must be finite"));
        }
        if let Op::ListRangeTail { max_bytes: 0, .. } = op {
            return invalid(format!("op {index}: a byte budget must be at least 1"));
        }
        let empty = match op {
            Op::SetScan(scan) | Op::SortedScan(scan) => scan.count == 0,
            Op::KeyScan(scan) => scan.count == 0 || scan.pattern.is_empty(),
            Op::SortedRangeByScoreDesc { limit, .. } => limit.is_some_and(|(_, count)| count == 0),
            _ => items == Some(0),
        };
        if empty {
            return invalid(format!("op {index} on {} has nothing to do", op.key()));
        }
        if let Some(key_type) = op.spec().key.declared()
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
        match self.many.get(key) {
            Some(previous) => Some(*previous),
            None => {
                self.many.insert(key, key_type);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyScanRequest, ScanRequest};

    fn message(batch: Batch) -> String {
        check(&batch).unwrap_err().message
    }

    #[test]
    fn accepts_an_ordinary_batch() {
        let batch = Batch::new()
            .op(Op::HashSet { key: "h".into(), fields: vec![("f".into(), "v".into())] })
            .op(Op::Expire { key: "h".into(), ttl_ms: 1000 })
            .op(Op::StringSet { key: "s".into(), value: String::new(), ttl_ms: Some(5) });
        assert_eq!(check(&batch), Ok(()));
    }

    #[test]
    fn refuses_what_no_backend_could_apply() {
        assert_eq!(
            message(Batch::new().op(Op::HashSet { key: "h".into(), fields: vec![] })),
            "op 0 on h has nothing to do"
        );
        assert_eq!(
            message(Batch::new().op(Op::Expire { key: "h".into(), ttl_ms: 0 })),
            format!("op 0: a TTL must be from 1 ms to {MAX_TTL_MS} ms")
        );
        assert_eq!(
            message(Batch::new().op(Op::SortedAdd { key: "z".into(), members: vec![(f64::NAN, "m".into())] })),
            "op 0: scores must be finite"
        );
        assert_eq!(
            message(Batch::new().op(Op::KeyScan(KeyScanRequest {
                pattern: String::new(),
                cursor: "0".into(),
                count: 5
            }))),
            "op 0 on  has nothing to do"
        );
        assert_eq!(
            message(Batch::new().op(Op::SetScan(ScanRequest { key: "s".into(), cursor: "0".into(), count: 0 }))),
            "op 0 on s has nothing to do"
        );
        let many = (0..=MAX_MEMBERS_PER_OP).map(|i| i.to_string()).collect();
        assert_eq!(
            message(Batch::new().op(Op::SetAdd { key: "s".into(), members: many })),
            format!("op 0 names {} items; at most {MAX_MEMBERS_PER_OP} per op", MAX_MEMBERS_PER_OP + 1)
        );
        assert_eq!(
            message(
                Batch::new()
                    .op(Op::SetAdd { key: "k".into(), members: vec!["m".into()] })
                    .op(Op::HashGetAll("k".into()))
            ),
            "op 1 uses k as a set and as a hash"
        );
    }

    #[test]
    fn refuses_list_and_hash_delete_batches_no_backend_could_apply() {
        assert_eq!(
            message(Batch::new().op(Op::ListPush { key: "l".into(), values: vec![] })),
            "op 0 on l has nothing to do"
        );
        assert_eq!(
            message(Batch::new().op(Op::HashDelete { key: "h".into(), fields: vec![] })),
            "op 0 on h has nothing to do"
        );
        let many: Vec<String> = (0..=MAX_MEMBERS_PER_OP).map(|i| i.to_string()).collect();
        assert_eq!(
            message(Batch::new().op(Op::ListPush { key: "l".into(), values: many.clone() })),
            format!("op 0 names {} items; at most {MAX_MEMBERS_PER_OP} per op", MAX_MEMBERS_PER_OP + 1)
        );
        assert_eq!(
            message(Batch::new().op(Op::HashDelete { key: "h".into(), fields: many })),
            format!("op 0 names {} items; at most {MAX_MEMBERS_PER_OP} per op", MAX_MEMBERS_PER_OP + 1)
        );
        assert_eq!(
            message(Batch::new().op(Op::ListRangeTail { key: "l".into(), start: 0, stop: -1, max_bytes: 0 })),
            "op 0: a byte budget must be at least 1"
        );
        assert_eq!(
            message(
                Batch::new()
                    .op(Op::ListPush { key: "k".into(), values: vec!["v".into()] })
                    .op(Op::HashDelete { key: "k".into(), fields: vec!["f".into()] })
            ),
            "op 1 uses k as a list and as a hash"
        );
        assert_eq!(
            message(Batch::new().op(Op::HashGetAll("k".into())).op(Op::ListLength("k".into()))),
            "op 1 uses k as a hash and as a list"
        );
    }

    #[test]
    fn accepts_list_ops_at_their_limits() {
        let full: Vec<String> = (0..MAX_MEMBERS_PER_OP).map(|i| i.to_string()).collect();
        let batch = Batch::new()
            .op(Op::ListPush { key: "l".into(), values: full.clone() })
            .op(Op::ListTrim { key: "l".into(), start: i64::MIN, stop: i64::MAX })
            .op(Op::ListRangeTail { key: "l".into(), start: -1, stop: -1, max_bytes: 1 })
            .op(Op::ListPopLast("l".into()))
            .op(Op::ListLength("l".into()))
            .op(Op::HashDelete { key: "h".into(), fields: full });
        assert_eq!(check(&batch), Ok(()));
    }

    #[test]
    fn finds_a_second_type_among_many_keys() {
        let mut batch = Batch::new();
        for i in 0..40 {
            batch.ops.push(Op::HashGetAll(format!("h{i}")));
        }
        batch.ops.push(Op::SetSize("h3".into()));
        assert_eq!(message(batch), "op 40 uses h3 as a hash and as a set");
    }
}
