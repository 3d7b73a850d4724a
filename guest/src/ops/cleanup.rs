//! `cleanup_expired`: removes every session whose expiry key is gone.
//!
//! It walks `active_sessions` and the list index with SSCAN/ZSCAN in pages of
//! `batch_size`; per page, one round trip finds the dead ids and one atomic
//! batch removes their hashes, set members and index entries, each guarded by
//! "expiry key still missing", with one member removal per set for the
//! page. It is idempotent and safe to run from several processes at once:
//! only the process whose batch took the session's member out of the set it
//! walks counts it, and a live session is never touched.
//! What it cannot judge (members that are not session ids, a set or index
//! of the wrong type) it leaves alone and reports.

use crate::conversation::Owner;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::kv::{Batch, Condition, Op, Reply, Storage};
use crate::model::{CleanupReport, Corruption};
use crate::ops::guard::{APP_NAME, USER_ID};
use crate::repository::Repository;

/// State of one cleanup run.
#[derive(Default)]
struct Sweep {
    report: CleanupReport,
    /// The group's set and index, in the order they are walked.
    sources: Vec<(String, bool)>,
    /// Shared keys found to hold the wrong type: skipped from then on.
    broken: Vec<String>,
}

impl Sweep {
    /// Session ids among `members` of `source`; the rest is reported.
    fn judge(&mut self, source: &str, members: Vec<String>) -> Vec<SessionId> {
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            match SessionId::parse(&member) {
                Ok(id) => ids.push(id),
                Err(message) => self.report.skip(Corruption {
                    session_id: member.clone(),
                    key: source.to_owned(),
                    field: member,
                    message: format!("{message}; left in place"),
                }),
            }
        }
        ids
    }

    /// Takes note of a shared key newly found to hold the wrong type; false
    /// if the corruption is about anything else (or already known, which
    /// would mean the retry did not help).
    fn mark_broken(&mut self, corruption: &Corruption) -> bool {
        let Some((key, _)) = self.sources.iter().find(|(key, _)| *key == corruption.key) else {
            return false;
        };
        if self.broken.contains(key) {
            return false;
        }
        self.broken.push(key.clone());
        self.report
            .skip(Corruption { message: format!("{}; cleanup skipped it", corruption.message), ..corruption.clone() });
        true
    }
}

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Sweeps every group of the layout (one in the document's layout):
    /// its set, then its index.
    pub fn cleanup_expired(&mut self) -> Result<CleanupReport, SessionError> {
        let mut sweep = Sweep::default();
        for group in self.settings.layout().groups() {
            sweep.sources = vec![(group.active, false), (group.index, true)];
            for (source, sorted) in sweep.sources.clone() {
                if sweep.broken.contains(&source) {
                    continue;
                }
                let scanned = self.scan_members(&source, sorted, |repository, members| {
                    let ids = sweep.judge(&source, members);
                    let removed = repository.remove_expired(&source, ids, &mut sweep)?;
                    sweep.report.removed += removed;
                    Ok(())
                });
                match scanned {
                    // The set or index itself holds another type: nothing in
                    // it can be judged; go on with the other one.
                    Err(SessionError::DataCorrupt(corruption)) if sweep.mark_broken(&corruption) => {}
                    other => other?,
                }
            }
        }
        Ok(sweep.report)
    }

    /// Removes the sessions among `ids` (members of `source`) whose expiry
    /// key is gone. A session counts as removed by this call when its own
    /// ops removed something: its hashes, or its member of `source`, which
    /// one atomic batch takes exactly once however many cleaners race. The
    /// member of the other set goes in one op for the whole page.
    fn remove_expired(&mut self, source: &str, ids: Vec<SessionId>, sweep: &mut Sweep) -> Result<u64, SessionError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let layout = self.settings.layout();
        // Each id's expiry key, and its owner, whose indexes it leaves too.
        let probe = Batch {
            conditions: vec![],
            ops: ids
                .iter()
                .flat_map(|id| {
                    let keys = layout.session_keys(id);
                    [
                        Op::Exists(keys.expiry),
                        Op::HashGetFields { key: keys.meta, fields: vec![APP_NAME.into(), USER_ID.into()] },
                    ]
                })
                .collect(),
        };
        let mut replies = self.execute_unconditional(probe, "")?;
        let mut dead: Vec<(SessionId, Option<Owner>)> = Vec::new();
        for id in ids {
            let alive = replies.next_reply()?.into_integer()? != 0;
            let mut owner = replies.next_reply()?.into_values()?.into_iter();
            if !alive {
                let owner = match (owner.next().flatten(), owner.next().flatten()) {
                    (Some(app_name), Some(user_id)) => Some(Owner { app_name, user_id }),
                    _ => None,
                };
                dead.push((id, owner));
            }
        }
        loop {
            let broken = sweep.broken.clone();
            let (set, index) = (sweep.sources[0].0.clone(), sweep.sources[1].0.clone());
            let member_removal = |key: &str, members: Vec<String>| {
                if key == set {
                    Op::SetRemove { key: key.to_owned(), members }
                } else {
                    Op::SortedRemove { key: key.to_owned(), members }
                }
            };
            let other = if source == set { index.as_str() } else { set.as_str() };
            // Each session's hashes go with a condition of its own; its
            // members leave both sets in one op per set for the page. The
            // source set's removal count is the number of sessions this call
            // removed: a member leaves a set once, so concurrent cleaners
            // count each session once between them.
            let chunks = |ids: &[SessionId], key: &str| -> Vec<Op> {
                ids.chunks(crate::kv::MAX_MEMBERS_PER_OP)
                    .map(|chunk| member_removal(key, chunk.iter().map(SessionId::to_string).collect()))
                    .collect()
            };
            let applied = self.execute_per_session(
                dead.clone(),
                |(id, _)| Condition::KeyMissing(layout.session_keys(id).expiry),
                |(id, owner)| {
                    let keys = layout.session_keys(id);
                    let mut ops = vec![
                        Op::Delete(keys.data),
                        Op::Delete(keys.meta),
                        Op::Delete(keys.items),
                        Op::Delete(keys.state),
                    ];
                    if let Some(owner) = owner {
                        let owner_keys = layout.owner_keys(id, owner);
                        for key in [owner_keys.user_index, owner_keys.app_index] {
                            ops.push(Op::SortedRemove { key, members: vec![id.to_string()] });
                        }
                    }
                    ops
                },
                |dead| {
                    let ids: Vec<SessionId> = dead.iter().map(|(id, _)| id.clone()).collect();
                    let ids = ids.as_slice();
                    let mut ops = Vec::new();
                    for key in [source, other] {
                        if !broken.iter().any(|b| b == key) && !ids.is_empty() {
                            ops.extend(chunks(ids, key));
                        }
                    }
                    ops
                },
            );
            match applied {
                Ok((applied, shared)) => {
                    if broken.iter().any(|b| b == source) {
                        let removed =
                            applied.iter().filter(|(_, replies)| replies.iter().any(Reply::is_positive_integer));
                        return Ok(removed.count() as u64);
                    }
                    let source_ops = applied.len().div_ceil(crate::kv::MAX_MEMBERS_PER_OP);
                    let mut removed = 0;
                    for reply in shared.into_iter().take(source_ops) {
                        removed += reply.into_integer()?.max(0) as u64;
                    }
                    return Ok(removed);
                }
                Err(SessionError::DataCorrupt(corruption)) if sweep.mark_broken(&corruption) => continue,
                Err(other) => return Err(other),
            }
        }
    }
}
