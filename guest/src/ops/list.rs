//! `list`: a page of sessions, newest first, from the sorted index.
//!
//! Two round trips whatever the number of sessions: the index (a rank range
//! for offset paging, a score range after a page token for cursor paging,
//! and the size), then the page's sessions. A page never fails as a whole
//! for one damaged session: those are reported in `corrupt`.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::{self, Layout};
use crate::kv::{Batch, ErrorKind, Op, Replies, ScoreBound, Storage};
use crate::model::{Corruption, Session, SessionPage};
use crate::repository::{Repository, decode_session_reads, session_reads};
use crate::validation::validate_page_size;

/// Ties at a page token's score fetched per round trip; more only when that
/// many sessions share the token's creation millisecond (bulk imports).
const TIES_PER_ROUND_TRIP: u64 = 1000;

impl<S: Storage, E: Environment> Repository<S, E> {
    /// A page of the index, newest first: ranks `offset..offset + limit`, or
    /// with `page_token` (from a previous page's `next_page_token`) the
    /// `limit` entries that follow that page's last one, wherever sessions
    /// were added or removed meanwhile. `total` counts the index, which
    /// still holds sessions that expired since the last cleanup; those are
    /// left out of the page, so a page can be short.
    pub fn list(&mut self, limit: u32, offset: u64, page_token: &str) -> Result<SessionPage, SessionError> {
        let layout = self.settings.layout();
        let limit = validate_page_size(limit).map_err(SessionError::InvalidInput)?;
        let token = match page_token {
            "" => None,
            text => Some(PageToken::parse(text).map_err(SessionError::InvalidInput)?),
        };
        if token.is_some() && offset > 0 {
            return Err(SessionError::InvalidInput("give either an offset or a page token, not both".into()));
        }
        let (total, entries) = match &token {
            Some(token) => self.index_after(token, limit)?,
            None => self.index_ranks(offset, limit)?,
        };
        let next_page_token = match entries.last() {
            Some((member, score)) if limit > 0 && entries.len() == limit as usize => {
                Some(PageToken { score: *score, member: member.clone() }.to_string())
            }
            _ => None,
        };

        let mut page = SessionPage { sessions: Vec::new(), total, limit, offset, next_page_token, corrupt: Vec::new() };
        let mut ids = Vec::with_capacity(entries.len());
        for (member, _) in entries {
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

        let ops = ids.iter().flat_map(|id| session_reads(&layout.session_keys(id))).collect();
        match self.storage.execute(Batch { conditions: vec![], ops }) {
            Ok(outcome) => {
                let mut replies = match outcome {
                    crate::kv::BatchOutcome::Applied(replies) => Replies::new(replies),
                    crate::kv::BatchOutcome::ConditionFailed { .. } => {
                        return Err(SessionError::backend("storage failed a condition that was not asked"));
                    }
                };
                for id in &ids {
                    collect(&mut page, read_one(layout, id, &mut replies))?;
                }
            }
            // One key of the wrong type fails the whole batch: read the page
            // one session at a time to find it and keep the rest.
            Err(error) if error.kind == ErrorKind::WrongType => {
                for id in &ids {
                    let keys = layout.session_keys(id);
                    let batch = Batch { conditions: vec![], ops: session_reads(&keys).into() };
                    let result = self
                        .execute_unconditional(batch, &id.to_string())
                        .and_then(|mut replies| read_one(layout, id, &mut replies));
                    collect(&mut page, result)?;
                }
            }
            Err(error) => return Err(error.into()),
        }
        Ok(page)
    }

    /// The index size and its entries at ranks `offset..offset + limit`.
    fn index_ranks(&mut self, offset: u64, limit: u32) -> Result<(u64, Vec<(String, f64)>), SessionError> {
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
        let entries = if limit > 0 { replies.next_reply()?.into_scored()? } else { Vec::new() };
        Ok((total, entries))
    }

    /// The index size and the `limit` entries after `token` in index order
    /// (score descending, then member descending, as ZREVRANGE orders):
    /// those sharing the token's score with a smaller member, then those
    /// with a lower score. One round trip unless more than
    /// [`TIES_PER_ROUND_TRIP`] entries share the token's score.
    fn index_after(&mut self, token: &PageToken, limit: u32) -> Result<(u64, Vec<(String, f64)>), SessionError> {
        let index = || keys::SESSION_INDEX.to_owned();
        let at_score = ScoreBound::inclusive(token.score);
        let ties = |offset| Op::SortedRangeByScoreDesc {
            key: index(),
            max: at_score,
            min: at_score,
            limit: Some((offset, TIES_PER_ROUND_TRIP)),
        };
        let mut ops = vec![Op::SortedSize(index())];
        if limit > 0 {
            ops.push(ties(0));
            ops.push(Op::SortedRangeByScoreDesc {
                key: index(),
                max: ScoreBound::exclusive(token.score),
                min: ScoreBound::inclusive(f64::NEG_INFINITY),
                limit: Some((0, u64::from(limit))),
            });
        }
        let mut replies = self.execute_unconditional(Batch { conditions: vec![], ops }, "")?;
        let total = replies.next_reply()?.into_integer()?.max(0) as u64;
        if limit == 0 {
            return Ok((total, Vec::new()));
        }
        let wanted = limit as usize;
        let mut tied = replies.next_reply()?.into_scored()?;
        let lower = replies.next_reply()?.into_scored()?;
        let mut entries = Vec::with_capacity(wanted);
        let mut fetched = 0;
        loop {
            let full_round = tied.len() as u64 == TIES_PER_ROUND_TRIP;
            fetched += tied.len() as u64;
            entries.extend(tied.into_iter().filter(|(member, _)| *member < token.member).take(wanted - entries.len()));
            if entries.len() == wanted || !full_round {
                break;
            }
            let batch = Batch { conditions: vec![], ops: vec![ties(fetched)] };
            tied = self.execute_unconditional(batch, "")?.next_reply()?.into_scored()?;
        }
        let room = wanted - entries.len();
        entries.extend(lower.into_iter().take(room));
        Ok((total, entries))
    }
}

/// Where a page ended: the score and member of its last index entry.
/// Written `<score>:<member>` (the score is the creation time in ms); opaque
/// to callers, who only pass it back.
#[derive(Debug, Clone, PartialEq)]
struct PageToken {
    score: f64,
    member: String,
}

impl PageToken {
    fn parse(text: &str) -> Result<Self, String> {
        let invalid =
            || format!("page token {text:?} is not one this service returned (expected <score>:<session id>)");
        let (score, member) = text.split_once(':').ok_or_else(invalid)?;
        let score = score.parse::<f64>().ok().filter(|score| score.is_finite()).ok_or_else(invalid)?;
        if member.is_empty() || member.len() > MAX_TOKEN_MEMBER_BYTES {
            return Err(invalid());
        }
        Ok(Self { score, member: member.to_owned() })
    }
}

/// Longest member a page token carries: ids are 36 bytes; the index may
/// hold other text written by another service, which a token must survive.
const MAX_TOKEN_MEMBER_BYTES: usize = 1024;

impl std::fmt::Display for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.score, self.member)
    }
}

fn read_one(layout: Layout, id: &SessionId, replies: &mut Replies) -> Result<Option<Session>, SessionError> {
    decode_session_reads(id, &layout.session_keys(id), replies)
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
