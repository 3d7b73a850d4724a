//! `stats`: counts and inconsistencies for monitoring, one bounded step at
//! a time, so that a host can show progress and Redis is never blocked.
//!
//! Each call does one page of work and returns the totals so far with a
//! cursor for the next call; the host only loops until `done`. Two phases:
//!
//! 1. `members:<cursor>`: SSCAN `active_sessions`; per page one round trip
//!    reads each member's key TTLs and meta status fields. Live sessions are
//!    counted by status, activity and remaining TTL; members whose expiry key
//!    is gone are expired (awaiting cleanup) or, without any key, dangling.
//! 2. `keys:<cursor>`: SCAN the keyspace for per-session keys; per page one
//!    round trip asks which ids are in `active_sessions` and the TTL of the
//!    keys of those that are not. In the sharded layout each group's keys
//!    are one SCAN walk of their own (its node's keyspace on a cluster),
//!    so this phase reads the keyspace once per shard.
//!
//! SCAN and SSCAN may return an entry twice when Redis resizes a table
//! during the walk, and sessions change while it runs: the figures are a
//! snapshot good for monitoring, not an exact audit.

use std::collections::BTreeMap;

use crate::encoding::{self, meta_field as m};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys;
use crate::kv::{Batch, KeyScanRequest, Op, Storage};
use crate::model::{Corruption, MAX_STATS_PROBLEMS, SessionStats, StatsPage, TTL_BUCKET_BOUNDS, TtlBucket};
use crate::repository::{GroupCursor, Repository};
use crate::timestamp::Timestamp;

const MEMBERS: &str = "members:";
const KEYS: &str = "keys:";

impl SessionStats {
    fn problem(&mut self, session_id: &str, key: &str, field: &str, message: String) {
        if self.problems.len() < MAX_STATS_PROBLEMS {
            self.problems.push(Corruption {
                session_id: session_id.to_owned(),
                key: key.to_owned(),
                field: field.to_owned(),
                message,
            });
        }
    }

    fn count_items(&mut self, session_id: &str, items: u64) {
        self.items += items;
        if items > 0 {
            self.sessions_with_items += 1;
        }
        if items > self.max_items {
            self.max_items = items;
            self.max_items_session_id = Some(session_id.to_owned());
        }
    }

    fn count_status(&mut self, status: &str) {
        *self.by_status.entry(status.to_owned()).or_default() += 1;
    }

    fn count_ttl(&mut self, ttl_ms: i64) {
        if self.ttl_buckets.is_empty() {
            self.ttl_buckets = TTL_BUCKET_BOUNDS
                .iter()
                .map(|bound| Some(*bound))
                .chain([None])
                .map(|up_to_seconds| TtlBucket { up_to_seconds, count: 0 })
                .collect();
        }
        let seconds = encoding::ttl_ms_to_seconds(ttl_ms).unwrap_or(0);
        let index = TTL_BUCKET_BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(TTL_BUCKET_BOUNDS.len());
        if let Some(bucket) = self.ttl_buckets.get_mut(index) {
            bucket.count += 1;
        }
    }

    fn count_created(&mut self, id: &str, created_at: Timestamp) {
        if self.oldest_created_at.is_none_or(|oldest| created_at < oldest) {
            self.oldest_created_at = Some(created_at);
            self.oldest_session_id = Some(id.to_owned());
        }
        if self.newest_created_at.is_none_or(|newest| created_at > newest) {
            self.newest_created_at = Some(created_at);
            self.newest_session_id = Some(id.to_owned());
        }
    }
}

impl<S: Storage, E: Environment> Repository<S, E> {
    /// One step of the stats walk: `cursor` "" (or "0") starts it;
    /// `so_far` is the previous step's stats (default to start).
    pub fn stats_page(&mut self, cursor: &str, so_far: SessionStats) -> Result<StatsPage, SessionError> {
        let mut stats = so_far;
        let count = self.settings.batch_size;
        let layout = self.settings.layout();
        let groups = layout.groups();
        if cursor.is_empty() || cursor == "0" {
            // One batch per group: each is one slot in the sharded layout.
            for group in &groups {
                let sizes = Batch::new().op(Op::SetSize(group.active.clone())).op(Op::SortedSize(group.index.clone()));
                let mut replies = self.execute_unconditional(sizes, "")?;
                stats.set_size += replies.next_reply()?.into_integer()?.max(0) as u64;
                stats.index_size += replies.next_reply()?.into_integer()?.max(0) as u64;
            }
            return Ok(StatsPage { cursor: format!("{MEMBERS}0"), done: false, stats });
        }
        if let Some(set_cursor) = cursor.strip_prefix(MEMBERS) {
            let at = GroupCursor::parse(set_cursor, groups.len())?;
            let set = groups[at.group].active.clone();
            let request = crate::kv::ScanRequest { key: set.clone(), cursor: at.inner.clone(), count };
            let page =
                self.execute_unconditional(Batch::new().op(Op::SetScan(request)), "")?.next_reply()?.into_scan()?;
            self.count_members(&set, page.members, &mut stats)?;
            let (next, done) = at.after(&page.cursor, groups.len());
            let cursor = if done { format!("{KEYS}0") } else { format!("{MEMBERS}{next}") };
            return Ok(StatsPage { cursor, done: false, stats });
        }
        if let Some(key_cursor) = cursor.strip_prefix(KEYS) {
            // One SCAN walk per group, matching only that group's keys. In
            // the sharded layout the batch also names the group's set, so a
            // cluster runs it on the node holding the group's slot.
            let at = GroupCursor::parse(key_cursor, groups.len())?;
            let request = KeyScanRequest { pattern: layout.key_pattern(at.group), cursor: at.inner.clone(), count };
            let mut batch = Batch::new();
            if groups.len() > 1 {
                batch.ops.push(Op::Exists(groups[at.group].active.clone()));
            }
            let mut replies = self.execute_unconditional(batch.op(Op::KeyScan(request)), "")?;
            if groups.len() > 1 {
                replies.next_reply()?;
            }
            let page = replies.next_reply()?.into_scan()?;
            self.count_keys(page.members, &mut stats)?;
            let (next, done) = at.after(&page.cursor, groups.len());
            return Ok(StatsPage { cursor: format!("{KEYS}{next}"), done, stats });
        }
        Err(SessionError::InvalidInput(format!("stats cursor {cursor:?} was not returned by stats")))
    }

    fn count_members(&mut self, set: &str, members: Vec<String>, stats: &mut SessionStats) -> Result<(), SessionError> {
        let layout = self.settings.layout();
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            match SessionId::parse(&member) {
                Ok(id) => ids.push(id),
                Err(message) => {
                    stats.members_without_keys += 1;
                    stats.problem(&member, set, &member, message);
                }
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        for id in &ids {
            let keys = layout.session_keys(id);
            batch.ops.extend([
                Op::TtlMs(keys.expiry),
                Op::TtlMs(keys.data),
                Op::TtlMs(keys.meta.clone()),
                Op::HashGetFields {
                    key: keys.meta,
                    fields: vec![m::STATUS.into(), m::IS_ACTIVE.into(), m::CREATED_AT.into(), m::APP_NAME.into()],
                },
                Op::ListLength(keys.items),
            ]);
        }
        let mut replies = self.execute_unconditional(batch, "")?;
        for id in ids {
            let keys = layout.session_keys(&id);
            let id = id.to_string();
            let expiry_ttl = replies.next_reply()?.into_integer()?;
            let data_ttl = replies.next_reply()?.into_integer()?;
            let meta_ttl = replies.next_reply()?.into_integer()?;
            let values = replies.next_reply()?.into_values()?;
            let items = replies.next_reply()?.into_integer()?.max(0) as u64;
            for (key, ttl) in [(&keys.expiry, expiry_ttl), (&keys.data, data_ttl), (&keys.meta, meta_ttl)] {
                if ttl == -1 {
                    stats.keys_without_ttl += 1;
                    stats.problem(&id, key, "", "the key has no TTL; it will never expire".into());
                }
            }
            if expiry_ttl == -2 {
                if data_ttl == -2 && meta_ttl == -2 {
                    stats.members_without_keys += 1;
                    let message = "a member of active_sessions without any key; cleanup removes it".into();
                    stats.problem(&id, set, &id, message);
                } else {
                    stats.expired_awaiting_cleanup += 1;
                }
                continue;
            }
            stats.sessions += 1;
            if expiry_ttl >= 0 {
                stats.count_ttl(expiry_ttl);
            }
            let mut values = values.into_iter();
            let (status, is_active, created_at, app_name) =
                (values.next().flatten(), values.next().flatten(), values.next().flatten(), values.next().flatten());
            stats.count_items(&id, items);
            if app_name.is_some() {
                stats.owned_sessions += 1;
            }
            stats.count_status(status.as_deref().unwrap_or(""));
            match is_active.as_deref().map(encoding::decode_bool) {
                Some(Ok(true)) => stats.active += 1,
                Some(Ok(false)) => stats.inactive += 1,
                _ => {
                    stats.inactive += 1;
                    let message = format!("is_active is {is_active:?}, not true or false");
                    stats.problem(&id, &keys.meta, m::IS_ACTIVE, message);
                }
            }
            match created_at.as_deref().map(Timestamp::parse) {
                Some(Ok(created_at)) => stats.count_created(&id, created_at),
                _ => stats.problem(&id, &keys.meta, m::CREATED_AT, format!("created_at is {created_at:?}")),
            }
        }
        Ok(())
    }

    fn count_keys(&mut self, found: Vec<String>, stats: &mut SessionStats) -> Result<(), SessionError> {
        let mut by_id: BTreeMap<SessionId, Vec<String>> = BTreeMap::new();
        for key in found {
            if let Some((id, _)) = keys::parse_session_key(&key) {
                by_id.entry(id).or_default().push(key);
            }
        }
        if by_id.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        let layout = self.settings.layout();
        for (id, keys) in &by_id {
            batch.ops.push(Op::SetContains { key: layout.session_keys(id).active, member: id.to_string() });
            batch.ops.extend(keys.iter().map(|key| Op::TtlMs(key.clone())));
        }
        let mut replies = self.execute_unconditional(batch, "")?;
        for (id, keys) in by_id {
            let member = replies.next_reply()?.into_integer()? == 1;
            for key in keys {
                let ttl = replies.next_reply()?.into_integer()?;
                // Keys of members were judged in the members phase.
                if member || ttl == -2 {
                    continue;
                }
                stats.keys_without_members += 1;
                stats.problem(id.as_str(), &key, "", "the session is not in active_sessions".into());
                if ttl == -1 {
                    stats.keys_without_ttl += 1;
                    stats.problem(id.as_str(), &key, "", "the key has no TTL; it will never expire".into());
                }
            }
        }
        Ok(())
    }
}
