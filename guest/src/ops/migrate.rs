//! `migrate`: brings sessions another service wrote in the design
//! document's layout up to ours, a page of `active_sessions` per call:
//! index entries (scored by created_at), TTLs on hashes that have none
//! (the expiry key's TTL plus the grace period), and `schema_version`.
//! Each session's changes are one atomic step guarded by "expiry key still
//! there", so an expiring or deleted session is never brought back. It is
//! idempotent: running it again, or resuming from a cursor, is safe.

use crate::encoding::{CURRENT_SCHEMA_VERSION, meta_field as m};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::Layout;
use crate::kv::{Batch, Condition, Op, ScanRequest, Storage};
use crate::model::MigratePage;
use crate::repository::{GroupCursor, Repository};
use crate::timestamp::Timestamp;

/// What one live session needs.
struct Needs {
    id: SessionId,
    index_at: Option<i64>,
    data_ttl_ms: Option<u64>,
    meta_ttl_ms: Option<u64>,
    /// The conversation's list and the state hash, when they have no TTL.
    items_ttl_ms: Option<u64>,
    state_ttl_ms: Option<u64>,
    schema_version: bool,
}

impl Needs {
    fn ops(&self, layout: Layout) -> Vec<Op> {
        let keys = layout.session_keys(&self.id);
        let mut ops = Vec::new();
        if let Some(score) = self.index_at {
            ops.push(Op::SortedAdd { key: keys.index.clone(), members: vec![(score as f64, self.id.to_string())] });
        }
        if let Some(ttl_ms) = self.data_ttl_ms {
            ops.push(Op::Expire { key: keys.data, ttl_ms });
        }
        if let Some(ttl_ms) = self.meta_ttl_ms {
            ops.push(Op::Expire { key: keys.meta.clone(), ttl_ms });
        }
        if let Some(ttl_ms) = self.items_ttl_ms {
            ops.push(Op::Expire { key: keys.items.clone(), ttl_ms });
        }
        if let Some(ttl_ms) = self.state_ttl_ms {
            ops.push(Op::Expire { key: keys.state.clone(), ttl_ms });
        }
        if self.schema_version {
            ops.push(Op::HashSet {
                key: keys.meta,
                fields: vec![(m::SCHEMA_VERSION.into(), CURRENT_SCHEMA_VERSION.into())],
            });
        }
        ops
    }

    fn is_empty(&self) -> bool {
        self.index_at.is_none()
            && self.data_ttl_ms.is_none()
            && self.meta_ttl_ms.is_none()
            && self.items_ttl_ms.is_none()
            && self.state_ttl_ms.is_none()
            && !self.schema_version
    }
}

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn migrate(&mut self, cursor: &str, dry_run: bool) -> Result<MigratePage, SessionError> {
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
        let mut result = MigratePage { cursor: next, done, ..MigratePage::default() };
        let ids: Vec<SessionId> = page.members.iter().filter_map(|m| SessionId::parse(m).ok()).collect();
        result.examined = page.members.len() as u64;
        if ids.is_empty() {
            return Ok(result);
        }
        let mut probe = Batch::new();
        for id in &ids {
            let keys = layout.session_keys(id);
            probe.ops.extend([
                Op::TtlMs(keys.expiry),
                Op::TtlMs(keys.data),
                Op::TtlMs(keys.meta.clone()),
                Op::TtlMs(keys.items),
                Op::TtlMs(keys.state),
                Op::SortedScore { key: keys.index.clone(), member: id.to_string() },
                Op::HashGetFields { key: keys.meta, fields: vec![m::CREATED_AT.into(), m::SCHEMA_VERSION.into()] },
            ]);
        }
        let mut replies = self.execute_unconditional(probe, "")?;
        let grace_ms = self.settings.grace_seconds.saturating_mul(1000);
        let mut needed = Vec::new();
        for id in ids {
            let expiry_ttl = replies.next_reply()?.into_integer()?;
            let data_ttl = replies.next_reply()?.into_integer()?;
            let meta_ttl = replies.next_reply()?.into_integer()?;
            let items_ttl = replies.next_reply()?.into_integer()?;
            let state_ttl = replies.next_reply()?.into_integer()?;
            let score = replies.next_reply()?.into_text()?;
            let mut values = replies.next_reply()?.into_values()?.into_iter();
            let (created_at, schema_version) = (values.next().flatten(), values.next().flatten());
            if expiry_ttl == -2 {
                continue; // expired or gone: cleanup's business
            }
            // Hashes get the session's TTL plus grace; a session whose
            // expiry key has no TTL keeps hashes without one too.
            let hash_ttl = u64::try_from(expiry_ttl).ok().map(|ms| ms.saturating_add(grace_ms));
            let created_at = created_at.as_deref().and_then(|text| Timestamp::parse(text).ok());
            let needs = Needs {
                id,
                index_at: if score.is_none() { created_at.map(Timestamp::unix_millis) } else { None },
                data_ttl_ms: if data_ttl == -1 { hash_ttl } else { None },
                meta_ttl_ms: if meta_ttl == -1 { hash_ttl } else { None },
                items_ttl_ms: if items_ttl == -1 { hash_ttl } else { None },
                state_ttl_ms: if state_ttl == -1 { hash_ttl } else { None },
                schema_version: schema_version.is_none() && meta_ttl != -2,
            };
            if !needs.is_empty() {
                needed.push(needs);
            }
        }
        let tally = |result: &mut MigratePage, needs: &Needs| {
            result.indexed += u64::from(needs.index_at.is_some());
            result.hash_ttls_set += [needs.data_ttl_ms, needs.meta_ttl_ms, needs.items_ttl_ms, needs.state_ttl_ms]
                .iter()
                .filter(|ttl| ttl.is_some())
                .count() as u64;
            result.schema_versions_set += u64::from(needs.schema_version);
        };
        if dry_run {
            for needs in &needed {
                tally(&mut result, needs);
            }
            return Ok(result);
        }
        let applied = self
            .execute_per_session(
                needed,
                |needs| Condition::KeyExists(layout.session_keys(&needs.id).expiry),
                |needs| needs.ops(layout),
                |_| Vec::new(),
            )?
            .0;
        for (needs, _) in &applied {
            tally(&mut result, needs);
        }
        Ok(result)
    }
}
