//! `export_sessions` and `import_sessions`: moving sessions between stores.
//!
//! Export reads live sessions as stored (both hashes byte for byte and the
//! remaining TTL), a page of `active_sessions` per call. Import validates
//! every record first, then writes each session with all its keys, TTLs,
//! set member and index entry in one batch for the whole call; records
//! already stored are skipped, overwritten or refuse the call, as asked.
//! Importing the same records again changes nothing (with skip) or writes
//! the same contents (with overwrite).
//!
//! Whether an id is taken is read first (for the report, and for dry runs),
//! but with skip and fail the write batch also carries, for every session
//! it writes, the condition that none of that session's keys exists, so a
//! session another writer stores in between is never overwritten: with
//! skip it is counted as skipped and the rest written, with fail nothing is
//! written.

use crate::conversation::{MAX_ITEMS, MAX_ITEMS_PER_READ, Owner, READ_BUDGET_BYTES};
use crate::encoding::{HashContents, encode_data, encode_meta};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::SessionKeys;
use crate::kv::{Batch, BatchOutcome, Condition, Op, ScanRequest, Storage};
use crate::model::{
    ConflictPolicy, ExportPage, ImportRecord, ImportReport, RejectReason, RejectedRecord, Session, SessionCreate,
    SessionMeta, StoredSession,
};
use crate::repository::{GroupCursor, Repository};
use crate::validation::validate_create;

/// Most records one `import_sessions` call takes.
pub const MAX_IMPORT_RECORDS: usize = 1000;
/// Longest TTL an imported session may carry: 100 years.
const MAX_IMPORT_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// A record ready to write.
struct Prepared {
    index: u32,
    id: SessionId,
    data: Vec<(String, String)>,
    meta: Vec<(String, String)>,
    ttl_ms: u64,
    created_at_ms: i64,
    items: Vec<String>,
    state: Vec<(String, String)>,
    /// The owner in the meta hash, and the owner indexes' score.
    owner: Option<Owner>,
    updated_at_ms: i64,
}

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn export_sessions(&mut self, cursor: &str) -> Result<ExportPage, SessionError> {
        let layout = self.settings.layout();
        let groups = layout.groups();
        let at = GroupCursor::parse(cursor, groups.len())?;
        let request = ScanRequest {
            key: groups[at.group].active.clone(),
            cursor: at.inner.clone(),
            count: self.settings.batch_size,
        };
        let page = self.execute_unconditional(Batch::new().op(Op::SetScan(request)), "")?.next_reply()?.into_scan()?;
        let (next, done) = at.after(&page.cursor, groups.len());
        let ids: Vec<SessionId> = page.members.iter().filter_map(|m| SessionId::parse(m).ok()).collect();
        let mut sessions = Vec::with_capacity(ids.len());
        if !ids.is_empty() {
            let mut batch = Batch::new();
            for id in &ids {
                let keys = layout.session_keys(id);
                batch.ops.extend([
                    Op::TtlMs(keys.expiry),
                    Op::HashGetAll(keys.data),
                    Op::HashGetAll(keys.meta),
                    Op::HashGetAll(keys.state),
                    Op::ListLength(keys.items),
                ]);
            }
            let mut replies = self.execute_unconditional(batch, "")?;
            for id in ids {
                let ttl_ms = replies.next_reply()?.into_integer()?;
                let data = replies.next_reply()?.into_fields()?;
                let meta = replies.next_reply()?.into_fields()?;
                let state = replies.next_reply()?.into_fields()?;
                let count = replies.next_reply()?.into_integer()?.max(0) as u64;
                // Only live sessions; an expired one is cleanup's business.
                if ttl_ms != -2 && !(data.is_empty() && meta.is_empty()) {
                    let ttl_ms = u64::try_from(ttl_ms).ok();
                    let items = if count > 0 { self.read_all_items(&layout.session_keys(&id), count)? } else { vec![] };
                    sessions.push(StoredSession { id: id.to_string(), data, meta, ttl_ms, items, state });
                }
            }
        }
        Ok(ExportPage { cursor: next, done, sessions })
    }

    /// Every item of a list of `count`, oldest first, in reads of at most
    /// 1000 items and the read budget, newest pages first.
    fn read_all_items(&mut self, keys: &SessionKeys, count: u64) -> Result<Vec<String>, SessionError> {
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut stop = count as i64 - 1;
        while stop >= 0 {
            let start = (stop - i64::from(MAX_ITEMS_PER_READ) + 1).max(0);
            let op = Op::ListRangeTail { key: keys.items.clone(), start, stop, max_bytes: READ_BUDGET_BYTES };
            let (_, items) = self.execute_unconditional(Batch::new().op(op), "")?.next_reply()?.into_list_tail()?;
            if items.is_empty() {
                break; // the list shrank meanwhile
            }
            stop -= items.len() as i64;
            pages.push(items);
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }

    pub fn import_sessions(
        &mut self,
        records: Vec<ImportRecord>,
        on_conflict: ConflictPolicy,
        dry_run: bool,
    ) -> Result<ImportReport, SessionError> {
        let layout = self.settings.layout();
        if records.len() > MAX_IMPORT_RECORDS {
            return Err(SessionError::InvalidInput(format!(
                "{} records in one call; at most {MAX_IMPORT_RECORDS}",
                records.len()
            )));
        }
        let mut report = ImportReport::default();
        let mut prepared = Vec::with_capacity(records.len());
        for (index, record) in records.into_iter().enumerate() {
            let index = index as u32;
            match self.prepare(index, record) {
                Ok(ready) => prepared.push(ready),
                Err(message) => report.rejected.push(RejectedRecord { index, reason: RejectReason::Invalid, message }),
            }
        }
        // The same id twice in one call: the last one wins, as it would
        // over two calls.
        let mut seen = std::collections::HashSet::new();
        prepared.reverse();
        prepared.retain(|p| seen.insert(p.id.clone()));
        prepared.reverse();
        if prepared.is_empty() {
            return Ok(report);
        }

        // Which of the sessions' keys exist: one batch per group (a batch
        // touches one slot in the sharded layout).
        let mut taken_at = vec![false; prepared.len()];
        for members in by_group(&layout, prepared.iter().map(|p| &p.id)) {
            let mut probe = Batch::new();
            for &at in &members {
                let keys = layout.session_keys(&prepared[at].id);
                probe.ops.extend([Op::Exists(keys.expiry), Op::Exists(keys.data), Op::Exists(keys.meta)]);
            }
            let mut replies = self.execute_unconditional(probe, "")?;
            for at in members {
                for _ in 0..3 {
                    taken_at[at] |= replies.next_reply()?.is_positive_integer();
                }
            }
        }
        let mut writes = Vec::with_capacity(prepared.len());
        let mut overwrites = 0;
        let mut refused = false;
        for (p, taken) in prepared.into_iter().zip(taken_at) {
            match (taken, on_conflict) {
                (false, _) => writes.push(p),
                (true, ConflictPolicy::Skip) => report.skipped += 1,
                (true, ConflictPolicy::Overwrite) => {
                    overwrites += 1;
                    writes.push(p);
                }
                (true, ConflictPolicy::Fail) => {
                    refused = true;
                    report.rejected.push(RejectedRecord {
                        index: p.index,
                        reason: RejectReason::IdTaken,
                        message: format!("session {} is already stored (on-conflict fail)", p.id),
                    });
                }
            }
        }
        report.rejected.sort_by_key(|r| r.index);
        report.overwritten = overwrites;
        report.imported = writes.len() as u64 - overwrites;
        if dry_run || refused || writes.is_empty() {
            if refused {
                report.imported = 0;
            }
            return Ok(report);
        }
        // One atomic batch per group: in the sharded layout an import is
        // atomic per shard, not across shards.
        let mut groups: Vec<Vec<Prepared>> = Vec::new();
        let members = by_group(&layout, writes.iter().map(|p| &p.id));
        let mut writes: Vec<Option<Prepared>> = writes.into_iter().map(Some).collect();
        for group in members {
            groups.push(group.into_iter().filter_map(|at| writes[at].take()).collect());
        }
        let mut written = 0;
        for group in groups {
            let size = group.len() as u64;
            if on_conflict == ConflictPolicy::Overwrite {
                let mut batch = Batch::new();
                for p in &group {
                    batch.ops.extend(self.write_ops(p));
                }
                self.execute_unconditional(batch, "")?;
            } else if !self.write_free_sessions(group, on_conflict, written, &mut report)? {
                return Ok(report);
            }
            written += size;
        }
        Ok(report)
    }

    /// Writes sessions the probe found free, in one batch that holds only
    /// if none of their keys exists yet. When one was stored in between
    /// (the batch's condition `index` failed, nothing written): with skip
    /// it is dropped, counted as skipped, and the rest retried; with fail
    /// it is rejected and the call writes nothing.
    ///
    /// Not `execute_per_session`: that takes one condition per item, and a
    /// session is taken when any of its three keys exists (as for create).
    ///
    /// All of `writes` share a group; `written_before` sessions of earlier
    /// groups were written. False when the call must stop (fail).
    fn write_free_sessions(
        &mut self,
        mut writes: Vec<Prepared>,
        on_conflict: ConflictPolicy,
        written_before: u64,
        report: &mut ImportReport,
    ) -> Result<bool, SessionError> {
        let layout = self.settings.layout();
        const CONDITIONS_PER_SESSION: usize = 3;
        while !writes.is_empty() {
            let mut batch = Batch::new();
            for p in &writes {
                let keys = layout.session_keys(&p.id);
                batch.conditions.extend([
                    Condition::KeyMissing(keys.expiry),
                    Condition::KeyMissing(keys.data),
                    Condition::KeyMissing(keys.meta),
                ]);
                batch.ops.extend(self.write_ops(p));
            }
            let failed = match self.execute(batch, "")? {
                BatchOutcome::Applied(_) => return Ok(true),
                BatchOutcome::ConditionFailed { index, .. } => index as usize,
            };
            let item = failed / CONDITIONS_PER_SESSION;
            if item >= writes.len() {
                return Err(SessionError::backend(format!(
                    "storage reported unknown condition {failed} failed in an import"
                )));
            }
            let taken = writes.remove(item);
            report.imported -= 1;
            if on_conflict == ConflictPolicy::Fail {
                report.imported = written_before;
                report.rejected.push(RejectedRecord {
                    index: taken.index,
                    reason: RejectReason::IdTaken,
                    message: format!("session {} was stored by another writer meanwhile (on-conflict fail)", taken.id),
                });
                report.rejected.sort_by_key(|r| r.index);
                return Ok(false);
            }
            report.skipped += 1;
        }
        Ok(true)
    }

    /// Every key, TTL, set member and index entry of one imported session;
    /// whatever its hashes, items and state held before is replaced.
    fn write_ops(&self, p: &Prepared) -> Vec<Op> {
        let layout = self.settings.layout();
        let keys = layout.session_keys(&p.id);
        let hash_ttl_ms = p.ttl_ms.saturating_add(self.settings.grace_seconds.saturating_mul(1000));
        let id = p.id.to_string();
        let mut ops = vec![
            Op::Delete(keys.data.clone()),
            Op::Delete(keys.meta.clone()),
            Op::Delete(keys.items.clone()),
            Op::Delete(keys.state.clone()),
            Op::HashSet { key: keys.data.clone(), fields: p.data.clone() },
            Op::HashSet { key: keys.meta.clone(), fields: p.meta.clone() },
            Op::Expire { key: keys.data, ttl_ms: hash_ttl_ms },
            Op::Expire { key: keys.meta, ttl_ms: hash_ttl_ms },
            Op::StringSet { key: keys.expiry, value: String::new(), ttl_ms: Some(p.ttl_ms) },
            Op::SetAdd { key: keys.active, members: vec![id.clone()] },
            Op::SortedAdd { key: keys.index, members: vec![(p.created_at_ms as f64, id.clone())] },
        ];
        for chunk in p.items.chunks(crate::kv::MAX_MEMBERS_PER_OP) {
            ops.push(Op::ListPush { key: keys.items.clone(), values: chunk.to_vec() });
        }
        if !p.items.is_empty() {
            ops.push(Op::Expire { key: keys.items, ttl_ms: hash_ttl_ms });
        }
        for chunk in p.state.chunks(crate::kv::MAX_MEMBERS_PER_OP) {
            ops.push(Op::HashSet { key: keys.state.clone(), fields: chunk.to_vec() });
        }
        if !p.state.is_empty() {
            ops.push(Op::Expire { key: keys.state, ttl_ms: hash_ttl_ms });
        }
        if let Some(owner) = &p.owner {
            let owner_keys = layout.owner_keys(&p.id, owner);
            let score = p.updated_at_ms as f64;
            ops.push(Op::SortedAdd { key: owner_keys.user_index, members: vec![(score, id.clone())] });
            ops.push(Op::SortedAdd { key: owner_keys.app_index, members: vec![(score, id)] });
        }
        ops
    }

    /// Checks one record and turns it into the fields to store; the error
    /// says what is wrong with it.
    fn prepare(&self, index: u32, record: ImportRecord) -> Result<Prepared, String> {
        let layout = self.settings.layout();
        let default_ttl_ms = self.settings.session_ttl_ms();
        let ttl = |ttl_ms: Option<u64>| match ttl_ms {
            None => Ok(default_ttl_ms),
            Some(ms) if (1..=MAX_IMPORT_TTL_MS).contains(&ms) => Ok(ms),
            Some(ms) => Err(format!("a TTL of {ms} ms is outside 1 ms to 100 years")),
        };
        match record {
            ImportRecord::Unreadable(message) => Err(message),
            ImportRecord::Stored(stored) => {
                let id = SessionId::parse(&stored.id)?;
                let keys = layout.session_keys(&id);
                let for_check = |fields: &Vec<(String, String)>| HashContents::Fields(fields.clone());
                // Stored contents are kept byte for byte, but only if they
                // decode as a session: nothing unreadable gets in.
                let session = crate::encoding::decode_session(
                    &stored.id,
                    &keys.data,
                    for_check(&stored.data),
                    &keys.meta,
                    for_check(&stored.meta),
                    -1,
                )
                .map_err(|c| format!("{} {:?}: {}", c.key, c.field, c.message))?;
                if let Some((field, _)) = stored.data.iter().chain(&stored.meta).find(|(field, _)| field.is_empty()) {
                    return Err(format!("a field without a name ({field:?})"));
                }
                check_conversation(&stored.items, &stored.state)?;
                let owner = match (&session.meta.app_name, &session.meta.user_id) {
                    (Some(app_name), Some(user_id)) => {
                        Some(Owner { app_name: app_name.clone(), user_id: user_id.clone() })
                    }
                    _ => None,
                };
                let updated_at_ms = stored
                    .meta
                    .iter()
                    .find(|(field, _)| field == crate::encoding::meta_field::UPDATED_AT_MS)
                    .and_then(|(_, ms)| ms.parse().ok())
                    .unwrap_or_else(|| session.meta.updated_at.unix_millis());
                Ok(Prepared {
                    index,
                    id,
                    data: stored.data,
                    meta: stored.meta,
                    ttl_ms: ttl(stored.ttl_ms)?,
                    created_at_ms: session.meta.created_at.unix_millis(),
                    items: stored.items,
                    state: stored.state,
                    owner,
                    updated_at_ms,
                })
            }
            ImportRecord::Typed(session) => {
                let Session { id, data, meta, expires_in_seconds } = *session;
                let id = SessionId::parse(&id)?;
                let valid =
                    validate_create(SessionCreate { status: Some(meta.status), ..SessionCreate::from_data(data) })?;
                let meta = SessionMeta { is_active: valid.is_active, status: valid.status, ..meta };
                Ok(Prepared {
                    index,
                    id,
                    data: encode_data(&valid.data),
                    meta: encode_meta(&meta),
                    ttl_ms: ttl(expires_in_seconds.map(|s| s.saturating_mul(1000)))?,
                    created_at_ms: meta.created_at.unix_millis(),
                    items: Vec::new(),
                    state: Vec::new(),
                    owner: match (&meta.app_name, &meta.user_id) {
                        (Some(app_name), Some(user_id)) => {
                            Some(Owner { app_name: app_name.clone(), user_id: user_id.clone() })
                        }
                        _ => None,
                    },
                    updated_at_ms: meta.updated_at.unix_millis(),
                })
            }
        }
    }
}

/// Positions of `ids` grouped by their group in `layout` (groups in order
/// of first appearance; positions in order within each).
fn by_group<'a>(layout: &crate::keys::Layout, ids: impl Iterator<Item = &'a SessionId>) -> Vec<Vec<usize>> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (at, id) in ids.enumerate() {
        let group = layout.group_of(id);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, members)) => members.push(at),
            None => groups.push((group, vec![at])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// An exported conversation reads back only if every item and state value
/// is JSON, within the limits a session may hold.
fn check_conversation(items: &[String], state: &[(String, String)]) -> Result<(), String> {
    if items.len() as u64 > MAX_ITEMS {
        return Err(format!("{} items; a session holds at most {MAX_ITEMS}", items.len()));
    }
    for (at, item) in items.iter().enumerate() {
        serde_json::from_str::<serde::de::IgnoredAny>(item).map_err(|e| format!("items[{at}] is not JSON: {e}"))?;
    }
    for (key, value) in state {
        serde_json::from_str::<serde::de::IgnoredAny>(value).map_err(|e| format!("state {key:?} is not JSON: {e}"))?;
    }
    Ok(())
}
