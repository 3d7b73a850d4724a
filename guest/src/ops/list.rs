//! `list`: a page of sessions, newest first, from the sorted index.
//!
//! Two round trips whatever the number of sessions: the index (a rank range
//! for offset paging, a score range after a page token for cursor paging,
//! and the size), then the page's sessions. A page never fails as a whole
//! for one damaged session: those are reported in `corrupt`.

use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::Layout;
use crate::kv::{Batch, BatchOutcome, ErrorKind, KvError, Op, Replies, ScoreBound, Storage};
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
        // Every group's index in turn (one in the document's layout), its
        // entries merged in index order: score descending, then member
        // descending, as ZREVRANGE orders one index.
        let indexes: Vec<String> = layout.groups().into_iter().map(|group| group.index).collect();
        let (total, entries, next_page_token) = self.index_page(&indexes, limit, offset, token.as_ref())?;

        let mut page = SessionPage { sessions: Vec::new(), total, limit, offset, next_page_token, corrupt: Vec::new() };
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            match SessionId::parse(&entry.member) {
                Ok(id) => ids.push(id),
                Err(message) => page.corrupt.push(Corruption {
                    session_id: entry.member.clone(),
                    key: entry.index,
                    field: entry.member,
                    message,
                }),
            }
        }
        // One batch per group of the page's sessions (one slot each in the
        // sharded layout), then the page in index order.
        let mut by_group: Vec<(String, Vec<usize>)> = Vec::new();
        for (position, id) in ids.iter().enumerate() {
            let index = layout.session_keys(id).index;
            match by_group.iter_mut().find(|(key, _)| *key == index) {
                Some((_, positions)) => positions.push(position),
                None => by_group.push((index, vec![position])),
            }
        }
        let mut results: Vec<Option<Result<Option<Session>, SessionError>>> = ids.iter().map(|_| None).collect();
        let batches = by_group
            .iter()
            .map(|(_, positions)| Batch {
                conditions: vec![],
                ops: positions.iter().flat_map(|&at| session_reads(&layout.session_keys(&ids[at]))).collect(),
            })
            .collect();
        let outcomes = self.storage.execute_each(batches).map_err(|e| SessionError::from_kv(e, ""))?;
        for ((_, positions), outcome) in by_group.iter().zip(outcomes) {
            let group_ids: Vec<&SessionId> = positions.iter().map(|&position| &ids[position]).collect();
            for (position, result) in positions.iter().zip(self.read_sessions(layout, &group_ids, outcome)?) {
                results[*position] = Some(result);
            }
        }
        for result in results.into_iter().flatten() {
            collect(&mut page, result)?;
        }
        Ok(page)
    }

    /// The sessions `ids` (of one group) from `outcome`, the reply to their
    /// reads, each as found: live, gone, or corrupt. Only storage failures
    /// fail the whole read.
    /// One page of entries of `indexes` (one per group, merged newest
    /// first), from rank `offset` or after `token`; with the indexes'
    /// total size and the next page's token. Every index is read in one
    /// `execute-each`.
    pub(crate) fn index_page(
        &mut self,
        indexes: &[String],
        limit: u32,
        offset: u64,
        token: Option<&PageToken>,
    ) -> Result<(u64, Vec<IndexEntry>, Option<String>), SessionError> {
        let (from, count) = match indexes.len() {
            1 => (offset, u64::from(limit)),
            _ => (0, offset.saturating_add(u64::from(limit))),
        };
        let batches = indexes
            .iter()
            .map(|index| match token {
                Some(token) => index_after_batch(index, token, limit),
                None => index_ranks_batch(index, from, count),
            })
            .collect();
        let outcomes = self.storage.execute_each(batches).map_err(|e| SessionError::from_kv(e, ""))?;
        let mut total = 0;
        let mut entries = Vec::new();
        for (index, outcome) in indexes.iter().zip(outcomes) {
            let mut replies = applied(outcome)?;
            let (size, found) = match token {
                Some(token) => self.index_after(index, token, limit, &mut replies)?,
                None => index_ranks(&mut replies, count)?,
            };
            total += size;
            entries.extend(found.into_iter().map(|(member, score)| IndexEntry { member, score, index: index.clone() }));
        }
        if indexes.len() > 1 {
            entries.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| b.member.cmp(&a.member)));
            let skip = if token.is_some() { 0 } else { usize::try_from(offset).unwrap_or(usize::MAX) };
            entries = entries.into_iter().skip(skip).take(limit as usize).collect();
        }
        let next_page_token = match entries.last() {
            Some(last) if limit > 0 && entries.len() == limit as usize => {
                Some(PageToken { score: last.score, member: last.member.clone() }.to_string())
            }
            _ => None,
        };
        Ok((total, entries, next_page_token))
    }

    fn read_sessions(
        &mut self,
        layout: Layout,
        ids: &[&SessionId],
        outcome: Result<BatchOutcome, KvError>,
    ) -> Result<Vec<Result<Option<Session>, SessionError>>, SessionError> {
        match outcome {
            Ok(outcome) => {
                let mut replies = applied(Ok(outcome))?;
                Ok(ids.iter().map(|id| read_one(layout, id, &mut replies)).collect())
            }
            // One key of the wrong type fails the whole batch: read the page
            // one session at a time to find it and keep the rest.
            Err(error) if error.kind == ErrorKind::WrongType => Ok(ids
                .iter()
                .map(|id| {
                    let keys = layout.session_keys(id);
                    let batch = Batch { conditions: vec![], ops: session_reads(&keys).into() };
                    self.execute_unconditional(batch, id.as_str())
                        .and_then(|mut replies| read_one(layout, id, &mut replies))
                })
                .collect()),
            Err(error) => Err(error.into()),
        }
    }

    /// The size of `index` and the `limit` entries after `token` in index
    /// order (score descending, then member descending, as ZREVRANGE
    /// orders): those sharing the token's score with a smaller member, then
    /// those with a lower score. One round trip unless more than
    /// [`TIES_PER_ROUND_TRIP`] entries share the token's score.
    fn index_after(
        &mut self,
        index: &str,
        token: &PageToken,
        limit: u32,
        replies: &mut Replies,
    ) -> Result<(u64, Vec<(String, f64)>), SessionError> {
        let at_score = ScoreBound::inclusive(token.score);
        let ties = |offset| Op::SortedRangeByScoreDesc {
            key: index.to_owned(),
            max: at_score,
            min: at_score,
            limit: Some((offset, TIES_PER_ROUND_TRIP)),
        };
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

/// The size of an index and its entries at ranks `start..start + count`.
fn index_ranks_batch(index: &str, start: u64, count: u64) -> Batch {
    let mut ops = vec![Op::SortedSize(index.to_owned())];
    if count > 0 {
        ops.push(Op::SortedRangeDesc { key: index.to_owned(), start, stop: start.saturating_add(count - 1) });
    }
    Batch { conditions: vec![], ops }
}

/// Reads what [`index_ranks_batch`] asked.
fn index_ranks(replies: &mut Replies, count: u64) -> Result<(u64, Vec<(String, f64)>), SessionError> {
    let total = replies.next_reply()?.into_integer()?.max(0) as u64;
    let entries = if count > 0 { replies.next_reply()?.into_scored()? } else { Vec::new() };
    Ok((total, entries))
}

/// The size of an index, the first entries tied at the token's score and
/// the `limit` entries below it (see `Repository::index_after`).
fn index_after_batch(index: &str, token: &PageToken, limit: u32) -> Batch {
    let at_score = ScoreBound::inclusive(token.score);
    let mut ops = vec![Op::SortedSize(index.to_owned())];
    if limit > 0 {
        ops.push(Op::SortedRangeByScoreDesc {
            key: index.to_owned(),
            max: at_score,
            min: at_score,
            limit: Some((0, TIES_PER_ROUND_TRIP)),
        });
        ops.push(Op::SortedRangeByScoreDesc {
            key: index.to_owned(),
            max: ScoreBound::exclusive(token.score),
            min: ScoreBound::inclusive(f64::NEG_INFINITY),
            limit: Some((0, u64::from(limit))),
        });
    }
    Batch { conditions: vec![], ops }
}

/// The replies of a batch without conditions, or its error.
pub(crate) fn applied(outcome: Result<BatchOutcome, KvError>) -> Result<Replies, SessionError> {
    match outcome.map_err(|e| SessionError::from_kv(e, ""))? {
        BatchOutcome::Applied(replies) => Ok(Replies::new(replies)),
        BatchOutcome::ConditionFailed { .. } => {
            Err(SessionError::backend("storage failed a condition that was not asked"))
        }
    }
}

/// One entry of a group's index, kept with the index it came from.
pub(crate) struct IndexEntry {
    pub member: String,
    pub score: f64,
    pub index: String,
}

/// Where a page ended: the score and member of its last index entry.
/// Written `<score>:<member>` (the score is the creation time in ms); opaque
/// to callers, who only pass it back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageToken {
    score: f64,
    member: String,
}

impl PageToken {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
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
