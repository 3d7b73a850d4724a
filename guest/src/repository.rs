//! The session repository: the design document's operations over
//! [`Storage`]. Each operation lives in its own file under `ops/`; this file
//! holds what they share.

use crate::encoding::{DATA_FIELDS, HashContents, META_FIELDS};
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::SessionKeys;
use crate::kv::{Batch, BatchOutcome, Op, Replies, Reply, Storage};
use crate::model::Session;
use crate::settings::Settings;

/// The repository: plain Rust over a storage, a clock and a random source,
/// so the same rules run inside the component and natively.
pub struct Repository<S, E> {
    pub(crate) storage: S,
    pub(crate) env: E,
    pub(crate) settings: Settings,
}

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Fails with `InvalidInput` when the host's settings are out of range.
    pub fn new(storage: S, env: E, settings: Settings) -> Result<Self, SessionError> {
        let settings = settings.validate().map_err(SessionError::InvalidInput)?;
        Ok(Self { storage, env, settings })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs a batch; the error names `session_id` when a key has the wrong type.
    pub(crate) fn execute(&mut self, batch: Batch, session_id: &str) -> Result<BatchOutcome, SessionError> {
        self.storage.execute(batch).map_err(|e| SessionError::from_kv(e, session_id))
    }

    /// Runs a batch that has no conditions and returns its replies.
    pub(crate) fn execute_unconditional(&mut self, batch: Batch, session_id: &str) -> Result<Replies, SessionError> {
        match self.execute(batch, session_id)? {
            BatchOutcome::Applied(replies) => Ok(Replies::new(replies)),
            BatchOutcome::ConditionFailed { index, .. } => Err(SessionError::backend(format!(
                "storage reported condition {index} failed in a batch without conditions"
            ))),
        }
    }
}

pub(crate) fn parse_id(id: &str) -> Result<SessionId, SessionError> {
    SessionId::parse(id).map_err(SessionError::InvalidInput)
}

/// The three reads that fetch one session, in the order
/// [`decode_session_reads`] expects them.
pub(crate) fn session_reads(keys: &SessionKeys) -> [Op; 3] {
    let named = |fields: &[&str]| fields.iter().map(|field| (*field).to_owned()).collect();
    [
        Op::TtlMs(keys.expiry.clone()),
        Op::HashGetFields { key: keys.data.clone(), fields: named(&DATA_FIELDS) },
        Op::HashGetFields { key: keys.meta.clone(), fields: named(&META_FIELDS) },
    ]
}

/// Decodes the replies of [`session_reads`]; `None` when the expiry key is
/// gone (the session is not alive, whatever hashes remain).
pub(crate) fn decode_session_reads(
    id: &SessionId,
    keys: &SessionKeys,
    replies: &mut Replies,
) -> Result<Option<Session>, SessionError> {
    let ttl_ms = replies.next_reply()?.into_integer()?;
    let data = HashContents::Values { names: &DATA_FIELDS, values: replies.next_reply()?.into_values()? };
    let meta = HashContents::Values { names: &META_FIELDS, values: replies.next_reply()?.into_values()? };
    if ttl_ms == -2 {
        return Ok(None);
    }
    let session = crate::encoding::decode_session(id.as_str(), &keys.data, data, &keys.meta, meta, ttl_ms)?;
    Ok(Some(session))
}

/// What [`Repository::execute_per_session`] applied: each item with the
/// replies of its own ops, then the replies of the shared ops.
pub(crate) type PerSession<T> = (Vec<(T, Vec<Reply>)>, Vec<Reply>);

impl<S: Storage, E: Environment> Repository<S, E> {
    /// Applies one batch holding, for every item, one condition and some
    /// ops, then `shared` ops for all the items at once. Items whose
    /// condition fails are dropped and the rest retried, so a session that
    /// changed state in between is never touched. Returns each applied item
    /// with the replies of its own ops, and the replies of the shared ops.
    pub(crate) fn execute_per_session<T>(
        &mut self,
        mut items: Vec<T>,
        condition_of: impl Fn(&T) -> crate::kv::Condition,
        ops_of: impl Fn(&T) -> Vec<Op>,
        shared: impl Fn(&[T]) -> Vec<Op>,
    ) -> Result<PerSession<T>, SessionError> {
        while !items.is_empty() {
            let mut batch = Batch::new();
            let mut op_counts = Vec::with_capacity(items.len());
            for item in &items {
                batch.conditions.push(condition_of(item));
                let ops = ops_of(item);
                op_counts.push(ops.len());
                batch.ops.extend(ops);
            }
            batch.ops.extend(shared(&items));
            match self.execute(batch, "")? {
                BatchOutcome::Applied(replies) => {
                    let mut replies = replies.into_iter();
                    let applied = items
                        .into_iter()
                        .zip(op_counts)
                        .map(|(item, count)| (item, replies.by_ref().take(count).collect()))
                        .collect();
                    return Ok((applied, replies.collect()));
                }
                BatchOutcome::ConditionFailed { index, .. } => {
                    let index = index as usize;
                    if index >= items.len() {
                        return Err(SessionError::backend(format!(
                            "storage reported unknown condition {index} failed"
                        )));
                    }
                    items.remove(index);
                }
            }
        }
        Ok((Vec::new(), Vec::new()))
    }

    /// Walks every member of a set or sorted set with SSCAN/ZSCAN, one
    /// bounded page at a time, handing each page to `visit`.
    pub(crate) fn scan_members(
        &mut self,
        key: &str,
        sorted: bool,
        mut visit: impl FnMut(&mut Self, Vec<String>) -> Result<(), SessionError>,
    ) -> Result<(), SessionError> {
        let mut cursor = "0".to_owned();
        loop {
            let request = crate::kv::ScanRequest { key: key.to_owned(), cursor, count: self.settings.batch_size };
            let op = if sorted { Op::SortedScan(request) } else { Op::SetScan(request) };
            let page = self.execute_unconditional(Batch::new().op(op), "")?.next_reply()?.into_scan()?;
            visit(self, page.members)?;
            if page.cursor == "0" {
                return Ok(());
            }
            cursor = page.cursor;
        }
    }
}

/// Where a walk over every group of the layout stands: a group and that
/// group's SCAN cursor. Written as the bare SCAN cursor in the document's
/// layout (one group), as `<group>:<cursor>` in the sharded one.
pub(crate) struct GroupCursor {
    pub group: usize,
    pub inner: String,
}

impl GroupCursor {
    /// `""` (or `"0"`) starts the walk.
    pub fn parse(text: &str, groups: usize) -> Result<Self, SessionError> {
        let invalid = || SessionError::InvalidInput(format!("cursor {text:?} is not one this walk returned"));
        if text.is_empty() || text == "0" {
            return Ok(GroupCursor { group: 0, inner: "0".into() });
        }
        if groups <= 1 {
            return Ok(GroupCursor { group: 0, inner: text.to_owned() });
        }
        let (group, inner) = text.split_once(':').ok_or_else(invalid)?;
        let group: usize = group.parse().map_err(|_| invalid())?;
        if group >= groups || inner.is_empty() {
            return Err(invalid());
        }
        Ok(GroupCursor { group, inner: inner.to_owned() })
    }

    /// The cursor after a page whose SCAN returned `next`, and whether the
    /// whole walk is done.
    pub fn after(&self, next: &str, groups: usize) -> (String, bool) {
        let format = |group: usize, inner: &str| {
            if groups <= 1 { inner.to_owned() } else { format!("{group}:{inner}") }
        };
        if next != "0" {
            (format(self.group, next), false)
        } else if self.group + 1 < groups {
            (format(self.group + 1, "0"), false)
        } else {
            ("0".to_owned(), true)
        }
    }
}
