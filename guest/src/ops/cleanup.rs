//! `cleanup_expired`: removes every session whose expiry key is gone.
//!
//! It walks `active_sessions` and the list index with SSCAN/ZSCAN in pages of
//! `batch_size`; per page, one round trip finds the dead ids and one atomic
//! batch removes their hashes, set members and index entries, each guarded by
//! "expiry key still missing". It is idempotent and safe to run from several
//! processes at once: only the process whose batch actually removed
//! something counts a session, and a live session is never touched.
//! Members that are not session ids are left alone, as it cannot judge them.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::{self, SessionKeys};
use crate::kv::{Batch, Condition, Op, Reply, Storage};
use crate::repository::Repository;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn cleanup_expired(&mut self) -> Result<u64, SessionError> {
        let mut removed = 0;
        for (key, sorted) in [(keys::ACTIVE_SESSIONS, false), (keys::SESSION_INDEX, true)] {
            self.scan_members(key, sorted, |repository, members| {
                removed += repository.remove_expired(members)?;
                Ok(())
            })?;
        }
        Ok(removed)
    }

    fn remove_expired(&mut self, members: Vec<String>) -> Result<u64, SessionError> {
        let ids: Vec<SessionId> = members.iter().filter_map(|member| SessionId::parse(member).ok()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let probe = Batch { conditions: vec![], ops: ids.iter().map(|id| Op::Exists(keys::expiry(id))).collect() };
        let mut replies = self.execute_unconditional(probe, "")?;
        let mut dead = Vec::new();
        for id in ids {
            if replies.next_reply()?.into_integer()? == 0 {
                dead.push(id);
            }
        }
        let applied = self.execute_per_session(
            dead,
            |id| Condition::KeyMissing(keys::expiry(id)),
            |id| {
                let keys = SessionKeys::new(id);
                let member = id.to_string();
                vec![
                    Op::Delete(keys.data),
                    Op::Delete(keys.meta),
                    Op::SetRemove { key: keys::ACTIVE_SESSIONS.into(), members: vec![member.clone()] },
                    Op::SortedRemove { key: keys::SESSION_INDEX.into(), members: vec![member] },
                ]
            },
        )?;
        Ok(applied.iter().filter(|(_, replies)| replies.iter().any(Reply::is_positive_integer)).count() as u64)
    }
}
