//! `list`: a page of sessions, newest first, from the sorted index.
//!
//! Two round trips whatever the number of sessions: the index (rank range
//! and size), then the page's sessions. A page never fails as a whole for
//! one damaged session: those are reported in `corrupt`.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::{self, SessionKeys};
use crate::kv::{Batch, ErrorKind, Op, Replies, Storage};
use crate::model::{Corruption, Session, SessionPage};
use crate::repository::{Repository, decode_session_reads, session_reads};
use crate::validation::validate_page_size;

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Sessions at ranks `offset..offset + limit` of the index. `total`
    /// counts the index, which still holds sessions that expired since the
    /// last cleanup; those are left out of the page, so a page can be short.
    pub fn list(&mut self, limit: u32, offset: u64) -> Result<SessionPage, SessionError> {
        let limit = validate_page_size(limit).map_err(SessionError::InvalidInput)?;
        let mut ops = vec![Op::SortedSize(keys::SESSION_INDEX.into())];
        if limit > 0 {
            ops.push(Op::SortedRangeDesc {
                key: keys::SESSION_INDEX.into(),
                start: offset,
                stop: offset.saturating_add(u64::from(limit) - 1),
            });
        }
        let mut replies = self.execute_unconditional(Batch { conditions: vec![], ops }, "")?;
        let total = replies.next_reply()?.into_integer()?.max(0) as u64;
        let members = if limit > 0 { replies.next_reply()?.into_texts()? } else { Vec::new() };

        let mut page = SessionPage { sessions: Vec::new(), total, limit, offset, corrupt: Vec::new() };
        let mut ids = Vec::with_capacity(members.len());
        for member in members {
            match SessionId::parse(&member) {
                Ok(id) => ids.push(id),
                Err(message) => page.corrupt.push(Corruption {
                    session_id: member.clone(),
                    key: keys::SESSION_INDEX.into(),
                    field: member,
                    message,
                }),
            }
        }
        if ids.is_empty() {
            return Ok(page);
        }

        let ops = ids.iter().flat_map(|id| session_reads(&SessionKeys::new(id))).collect();
        match self.storage.execute(Batch { conditions: vec![], ops }) {
            Ok(outcome) => {
                let mut replies = match outcome {
                    crate::kv::BatchOutcome::Applied(replies) => Replies::new(replies),
                    crate::kv::BatchOutcome::ConditionFailed { .. } => {
                        return Err(SessionError::backend("storage failed a condition that was not asked"));
                    }
                };
                for id in &ids {
                    collect(&mut page, read_one(id, &mut replies))?;
                }
            }
            // One key of the wrong type fails the whole batch: read the page
            // one session at a time to find it and keep the rest.
            Err(error) if error.kind == ErrorKind::WrongType => {
                for id in &ids {
                    let keys = SessionKeys::new(id);
                    let batch = Batch { conditions: vec![], ops: session_reads(&keys).into() };
                    let result = self
                        .execute_unconditional(batch, &id.to_string())
                        .and_then(|mut replies| read_one(id, &mut replies));
                    collect(&mut page, result)?;
                }
            }
            Err(error) => return Err(error.into()),
        }
        Ok(page)
    }
}

fn read_one(id: &SessionId, replies: &mut Replies) -> Result<Option<Session>, SessionError> {
    decode_session_reads(id, &SessionKeys::new(id), replies)
}

/// Adds one session's outcome to the page; only storage failures fail it.
fn collect(page: &mut SessionPage, result: Result<Option<Session>, SessionError>) -> Result<(), SessionError> {
    match result {
        Ok(Some(session)) => page.sessions.push(session),
        Ok(None) => {}
        Err(SessionError::DataCorrupt(corruption)) => page.corrupt.push(corruption),
        Err(other) => return Err(other),
    }
    Ok(())
}
