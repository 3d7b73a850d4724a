//! `reindex`: puts live sessions that are in `active_sessions` but not in the
//! list index (written by another service with only the design document's
//! keys) into the index, scored by their created_at. Safe to repeat and to
//! run next to other writers.

use crate::encoding::meta_field as m;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::kv::{Batch, Condition, Op, Reply, Storage};
use crate::repository::Repository;
use crate::timestamp::Timestamp;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn reindex(&mut self) -> Result<u64, SessionError> {
        let mut added = 0;
        for group in self.settings.layout().groups() {
            self.scan_members(&group.active, false, |repository, members| {
                added += repository.index_missing(members)?;
                Ok(())
            })?;
        }
        Ok(added)
    }

    fn index_missing(&mut self, members: Vec<String>) -> Result<u64, SessionError> {
        let layout = self.settings.layout();
        let ids: Vec<SessionId> = members.iter().filter_map(|member| SessionId::parse(member).ok()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let probe = Batch {
            conditions: vec![],
            ops: ids
                .iter()
                .flat_map(|id| {
                    let keys = layout.session_keys(id);
                    [
                        Op::SortedScore { key: keys.index, member: id.to_string() },
                        Op::TtlMs(keys.expiry),
                        Op::HashGet { key: keys.meta, field: m::CREATED_AT.into() },
                    ]
                })
                .collect(),
        };
        let mut replies = self.execute_unconditional(probe, "")?;
        let mut missing = Vec::new();
        for id in ids {
            let score = replies.next_reply()?.into_text()?;
            let ttl_ms = replies.next_reply()?.into_integer()?;
            let created_at = replies.next_reply()?.into_text()?;
            // Sessions with an unreadable created_at stay out of the index;
            // `get` reports them as corrupt.
            let created_at = created_at.as_deref().and_then(|text| Timestamp::parse(text).ok());
            if let (None, true, Some(created_at)) = (score, ttl_ms != -2, created_at) {
                missing.push((id, created_at));
            }
        }
        let applied = self
            .execute_per_session(
                missing,
                |(id, _)| Condition::KeyExists(layout.session_keys(id).expiry),
                |(id, created_at)| {
                    vec![Op::SortedAdd {
                        key: layout.session_keys(id).index,
                        members: vec![(created_at.unix_millis() as f64, id.to_string())],
                    }]
                },
                |_| Vec::new(),
            )?
            .0;
        Ok(applied.iter().filter(|(_, replies)| replies.iter().any(Reply::is_positive_integer)).count() as u64)
    }
}
