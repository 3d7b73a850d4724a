//! Conversation items: `append-items`, `get-items`, `pop-item` and
//! `clear-items`. Each is one atomic batch on the session's keys (one slot
//! in the sharded layout), only while the session is alive; the writes
//! refresh its TTLs and bump its version like `update`.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::conversation::{
    ItemOptions, ItemPopped, ItemsAppend, ItemsPage, ItemsQuery, ItemsReceipt, Json, MAX_ITEMS, MAX_ITEMS_PER_READ,
    MAX_WHOLE_READ_BYTES, Owner, READ_BUDGET_BYTES, SplitState, StateMap, WHOLE_READ_ATTEMPTS, split_state,
    validate_items, validate_owner,
};
use crate::encoding::meta_field as m;
use crate::environment::Environment;
use crate::error::SessionError;
use crate::id::SessionId;
use crate::keys::{Layout, SessionKeys};
use crate::kv::{Batch, BatchOutcome, Condition, Op, Storage};
use crate::model::{Corruption, SessionCreate};
use crate::ops::guard::{APP_NAME, Applied, Refused, USER_ID, owner_of, touch_ops, version_of};
use crate::repository::{Repository, decode_session_reads, parse_id, session_reads};
use crate::timestamp::Timestamp;

/// How many times an append with `create_if_missing` creates and retries.
const CREATE_ATTEMPTS: usize = 3;

impl<S: Storage, E: Environment> Repository<S, E> {
    pub fn append_items(&mut self, id: &str, request: ItemsAppend) -> Result<ItemsReceipt, SessionError> {
        let id = parse_id(id)?;
        validate_items(&request.items).map_err(SessionError::InvalidInput)?;
        if let Some(keep) = request.keep_last
            && !(1..=MAX_ITEMS).contains(&u64::from(keep))
        {
            return Err(SessionError::InvalidInput(format!("keep_last must be from 1 to {MAX_ITEMS}, not {keep}")));
        }
        if let Some(owner) = &request.owner {
            validate_owner(owner).map_err(SessionError::InvalidInput)?;
        }
        if request.create_if_missing.is_some() && request.expected_version.is_some() {
            // A session it creates is at version 1 whatever was expected.
            return Err(SessionError::InvalidInput(
                "give either expected_version or create_if_missing, not both".into(),
            ));
        }
        let mut created = false;
        for _ in 0..CREATE_ATTEMPTS {
            match self.append_once(&id, &request) {
                Err(SessionError::NotFound(_)) if request.create_if_missing.is_some() && !created => {
                    let mut input: SessionCreate = request.create_if_missing.clone().unwrap_or_default();
                    input.id = Some(id.to_string());
                    if let Some(owner) = &request.owner {
                        input.app_name = Some(owner.app_name.clone());
                        input.user_id = Some(owner.user_id.clone());
                    }
                    match self.create(input) {
                        Ok(_) => created = true,
                        // Another caller created it first: append to theirs.
                        Err(SessionError::Conflict(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                Ok(mut receipt) => {
                    receipt.created = created;
                    return Ok(receipt);
                }
                Err(other) => return Err(other),
            }
        }
        Err(SessionError::NotFound(id.to_string()))
    }

    fn append_once(&mut self, id: &SessionId, request: &ItemsAppend) -> Result<ItemsReceipt, SessionError> {
        let settings = self.settings;
        let layout = settings.layout();
        let keys = layout.session_keys(id);
        let now = self.env.now();
        let count = request.items.len() as u64;
        let values: Vec<String> = request.items.iter().map(|item| item.get().to_owned()).collect();
        let empty = StateMap::new();
        let delta = request.state_delta.as_ref().unwrap_or(&empty);
        let mut split = SplitState::default();
        let outcome = self.guarded_write(id, &keys, request.owner.as_ref(), request.expected_version, |owner| {
            split = split_state(delta, owner.is_some(), "state_delta").map_err(SessionError::InvalidInput)?;
            let mut extras = Vec::new();
            if request.keep_last.is_none() {
                extras.push(Condition::ListLength {
                    key: keys.items.clone(),
                    min: 0,
                    max: MAX_ITEMS.saturating_sub(count),
                });
            }
            let mut ops = vec![Op::ListPush { key: keys.items.clone(), values: values.clone() }];
            if let Some(keep) = request.keep_last {
                ops.push(Op::ListTrim { key: keys.items.clone(), start: -i64::from(keep), stop: -1 });
            }
            ops.extend(state_ops(layout, &keys, owner, &split, true));
            ops.extend(touch_ops(&settings, id, &keys, owner, now));
            ops.push(Op::ListLength(keys.items.clone()));
            Ok((extras, ops))
        })?;
        let applied = match outcome {
            Ok(applied) => applied,
            Err(Refused::Extra { actual, .. }) => {
                return Err(SessionError::InvalidInput(format!(
                    "session {id} holds {} items; {count} more would pass the limit of {MAX_ITEMS} (use keep_last to keep only the newest)",
                    actual.as_deref().unwrap_or("?")
                )));
            }
        };
        let receipt = receipt_of(id, &applied, now, 1 + usize::from(request.keep_last.is_some()))?;
        self.apply_shared_state(layout, applied.owner.as_ref(), &split, &receipt.id, receipt.version)?;
        Ok(receipt)
    }

    pub fn get_items(&mut self, id: &str, query: ItemsQuery) -> Result<ItemsPage, SessionError> {
        if query.whole { self.read_whole(id, query) } else { self.read_page(id, &query) }
    }

    /// Every item `query` selects, at one version: the newest page as
    /// `read_page` gives it, then older pages (one round trip each) until
    /// nothing is left out; a version change between pages starts over.
    fn read_whole(&mut self, id: &str, query: ItemsQuery) -> Result<ItemsPage, SessionError> {
        for _ in 0..WHOLE_READ_ATTEMPTS {
            let mut page = self.read_page(id, &query)?;
            let wanted = page.first_index - page.left_out;
            let mut bytes = item_bytes(&page.items);
            let mut older_pages = Vec::new();
            let mut first_index = page.first_index;
            // One past the newest item selected.
            let end = page.first_index + page.items.len() as u64;
            let mut stale = false;
            while first_index > wanted {
                check_whole_size(&page.id, bytes, end - first_index, end - wanted)?;
                let start = wanted.max(first_index.saturating_sub(u64::from(MAX_ITEMS_PER_READ)));
                let older = ItemsQuery {
                    start: Some(start as i64),
                    stop: Some(first_index as i64 - 1),
                    owner: query.owner.clone(),
                    ..ItemsQuery::default()
                };
                let older = self.read_page(id, &older)?;
                if older.version != page.version {
                    stale = true;
                    break;
                }
                if older.items.is_empty() {
                    return Err(SessionError::backend(format!(
                        "storage returned no item of positions {start} to {} of session {}",
                        first_index - 1,
                        page.id
                    )));
                }
                bytes += item_bytes(&older.items);
                first_index = older.first_index;
                older_pages.push(older.items);
            }
            if stale {
                continue;
            }
            check_whole_size(&page.id, bytes, end - first_index, end - wanted)?;
            let newest = std::mem::take(&mut page.items);
            page.items = older_pages.into_iter().rev().flatten().chain(newest).collect();
            page.first_index = wanted;
            page.left_out = 0;
            return Ok(page);
        }
        let id = parse_id(id)?;
        Err(SessionError::Conflict(format!(
            "session {id} kept changing while its items were read ({WHOLE_READ_ATTEMPTS} attempts); try again"
        )))
    }

    /// One read of `query`, within the per-read limits: one round trip.
    fn read_page(&mut self, id: &str, query: &ItemsQuery) -> Result<ItemsPage, SessionError> {
        let layout = self.settings.layout();
        let (id, keys) = target(layout, id, query.owner.as_ref())?;
        let range = ItemRange::of(query)?;
        let id_text = id.to_string();

        let mut ops = vec![
            Op::HashGetFields {
                key: keys.meta.clone(),
                fields: vec![
                    m::VERSION.into(),
                    APP_NAME.into(),
                    USER_ID.into(),
                    m::UPDATED_AT_MS.into(),
                    m::UPDATED_AT.into(),
                ],
            },
            Op::ListLength(keys.items.clone()),
        ];
        // The whole session only when asked for: a read of items needs
        // only to know the session is alive.
        if query.include_session {
            ops.extend(session_reads(&keys));
        } else {
            ops.push(Op::TtlMs(keys.expiry.clone()));
        }
        if let Some((start, stop)) = range.redis_range() {
            ops.push(Op::ListRangeTail { key: keys.items.clone(), start, stop, max_bytes: READ_BUDGET_BYTES });
        }
        if query.include_session {
            ops.push(Op::HashGetAll(keys.state.clone()));
        }
        // The app's and user's state: in this batch when they share its
        // server (the document's layout) and the caller named the owner.
        let shared_here = query.include_session && layout == Layout::Document && query.owner.is_some();
        if shared_here && let Some(owner) = &query.owner {
            ops.extend(shared_state_reads(layout, owner));
        }
        let mut replies = self.execute_unconditional(Batch { conditions: vec![], ops }, &id_text)?;

        let mut meta = replies.next_reply()?.into_values()?.into_iter();
        let version = meta.next().flatten();
        let owner = owner_of(&id, &keys, meta.next().flatten(), meta.next().flatten())?;
        let (updated_at_ms, updated_at) = (meta.next().flatten(), meta.next().flatten());
        let total = replies.next_reply()?.into_integer()?.max(0) as u64;
        let session = if query.include_session {
            match decode_session_reads(&id, &keys, &mut replies)? {
                Some(session) => Some(session),
                None => return Err(SessionError::NotFound(id_text)),
            }
        } else {
            if replies.next_reply()?.into_integer()? == -2 {
                return Err(SessionError::NotFound(id_text));
            }
            None
        };
        if query.owner.is_some() && query.owner != owner {
            return Err(SessionError::NotFound(id_text));
        }
        let version = match version {
            None => 0,
            Some(text) => text.parse().map_err(|_| {
                SessionError::DataCorrupt(Corruption {
                    session_id: id_text.clone(),
                    key: keys.meta.clone(),
                    field: m::VERSION.into(),
                    message: format!("{text:?} is not a whole number"),
                })
            })?,
        };
        let (items, first_index, left_out) = match range.redis_range() {
            None => (Vec::new(), total, 0),
            Some(_) => {
                // Lua's count of what the byte budget left out is folded
                // into ours, which also counts what the item cap did.
                let (_, texts) = replies.next_reply()?.into_list_tail()?;
                let (first, requested) = range.positions(total);
                let returned = (texts.len() as u64).min(requested);
                let left_out = requested - returned;
                let items = parse_items(&id_text, &keys.items, texts, first + left_out)?;
                (items, first + left_out, left_out)
            }
        };
        // Sessions without an owner have `updated_at` (whole seconds) only.
        let updated_at_ms = updated_at_ms.and_then(|ms| ms.parse().ok()).unwrap_or_else(|| {
            updated_at.as_deref().and_then(|text| Timestamp::parse(text).ok()).map_or(0, Timestamp::unix_millis)
        });
        let mut page = ItemsPage {
            id: id_text.clone(),
            items,
            total,
            first_index,
            left_out,
            version,
            updated_at_ms,
            session: None,
            state: None,
        };
        if query.include_session {
            let own = state_map(&id_text, &keys.state, replies.next_reply()?.into_fields()?)?;
            let shared = match (&owner, shared_here) {
                (Some(owner), true) => {
                    let app = replies.next_reply()?.into_fields()?;
                    let user = replies.next_reply()?.into_fields()?;
                    Some((app, user, owner))
                }
                (Some(owner), false) => {
                    let [app, user] = self.read_shared_state(layout, owner)?;
                    Some((app, user, owner))
                }
                (None, _) => None,
            };
            let mut state = own;
            if let Some((app, user, owner)) = shared {
                let app_key = layout.app_state(&owner.app_name);
                let user_key = layout.user_state(&owner.app_name, &owner.user_id);
                for (key, value) in state_map(&id_text, &app_key, app)? {
                    state.insert(format!("app:{key}"), value);
                }
                for (key, value) in state_map(&id_text, &user_key, user)? {
                    state.insert(format!("user:{key}"), value);
                }
            }
            page.session = session;
            page.state = Some(state);
        }
        Ok(page)
    }

    pub fn pop_item(&mut self, id: &str, options: ItemOptions) -> Result<ItemPopped, SessionError> {
        let settings = self.settings;
        let (id, keys) = target(settings.layout(), id, options.owner.as_ref())?;
        let now = self.env.now();
        let outcome = self.guarded_write(&id, &keys, options.owner.as_ref(), options.expected_version, |owner| {
            let extras = vec![Condition::ListLength { key: keys.items.clone(), min: 1, max: u64::from(u32::MAX) }];
            let mut ops = vec![Op::ListPopLast(keys.items.clone())];
            ops.extend(touch_ops(&settings, &id, &keys, owner, now));
            ops.push(Op::ListLength(keys.items.clone()));
            Ok((extras, ops))
        })?;
        match outcome {
            Ok(applied) => {
                let mut replies = applied.replies.into_iter();
                let item = replies.next().ok_or_else(too_few)?.into_text()?;
                let version = version_of(replies.next().ok_or_else(too_few)?)?;
                let count = replies.last().ok_or_else(too_few)?.into_integer()?.max(0) as u64;
                let item = match item {
                    Some(text) => Some(parse_item(id.as_ref(), &keys.items, text, count)?),
                    None => None,
                };
                Ok(ItemPopped { id: id.to_string(), item, version, count })
            }
            // Nothing to pop: nothing written, no version bump.
            Err(Refused::Extra { .. }) => {
                let page = self
                    .get_items(id.as_ref(), ItemsQuery { last: Some(0), owner: options.owner, ..Default::default() })?;
                Ok(ItemPopped { id: page.id, item: None, version: page.version, count: page.total })
            }
        }
    }

    pub fn clear_items(&mut self, id: &str, options: ItemOptions) -> Result<ItemsReceipt, SessionError> {
        let settings = self.settings;
        let (id, keys) = target(settings.layout(), id, options.owner.as_ref())?;
        let now = self.env.now();
        let outcome = self.guarded_write(&id, &keys, options.owner.as_ref(), options.expected_version, |owner| {
            let mut ops = vec![Op::Delete(keys.items.clone())];
            ops.extend(touch_ops(&settings, &id, &keys, owner, now));
            ops.push(Op::ListLength(keys.items.clone()));
            Ok((Vec::new(), ops))
        })?;
        match outcome {
            Ok(applied) => receipt_of(&id, &applied, now, 1),
            Err(Refused::Extra { .. }) => Err(SessionError::backend("clear-items has no condition of its own")),
        }
    }

    /// App and user state changes. In the document's layout they were in
    /// the session's batch; in the sharded layout their hashes live in
    /// slots of their own, so they follow as a second step (each hash
    /// atomic on its own, last writer wins per key), retried once.
    pub(crate) fn apply_shared_state(
        &mut self,
        layout: Layout,
        owner: Option<&Owner>,
        split: &SplitState,
        id: &str,
        version: u64,
    ) -> Result<(), SessionError> {
        let (Layout::Sharded { .. }, Some(owner)) = (layout, owner) else {
            return Ok(());
        };
        let mut batches = Vec::new();
        if !split.app.is_empty() {
            batches.push(
                Batch::new().op(Op::HashSet { key: layout.app_state(&owner.app_name), fields: split.app.clone() }),
            );
        }
        if !split.user.is_empty() {
            batches.push(Batch::new().op(Op::HashSet {
                key: layout.user_state(&owner.app_name, &owner.user_id),
                fields: split.user.clone(),
            }));
        }
        if batches.is_empty() {
            return Ok(());
        }
        let mut last_error = String::new();
        for _ in 0..2 {
            match self.storage.execute_each(batches.clone()) {
                Ok(outcomes) if outcomes.iter().all(|o| matches!(o, Ok(BatchOutcome::Applied(_)))) => return Ok(()),
                Ok(outcomes) => {
                    last_error = outcomes
                        .into_iter()
                        .find_map(|o| o.err())
                        .map(|e| e.message)
                        .unwrap_or_else(|| "a condition failed".into())
                }
                Err(error) => last_error = error.message,
            }
        }
        Err(SessionError::backend(format!(
            "session {id} was written (version {version}), but its app and user state were not: {last_error}"
        )))
    }
}

fn item_bytes(items: &[Json]) -> u64 {
    items.iter().map(|item| item.get().len() as u64).sum()
}

/// Refuses a whole read of `selected` items once the newest `read` of them
/// hold `bytes`, more than [`MAX_WHOLE_READ_BYTES`].
fn check_whole_size(id: &str, bytes: u64, read: u64, selected: u64) -> Result<(), SessionError> {
    if bytes <= MAX_WHOLE_READ_BYTES {
        return Ok(());
    }
    Err(SessionError::InvalidInput(format!(
        "session {id}: the {selected} items asked for hold more than {MAX_WHOLE_READ_BYTES} bytes (16 MiB) of JSON \
         ({bytes} bytes in the newest {read} alone), the most a whole read returns; read it by range (start/stop)"
    )))
}

/// The session an items call names, and its keys, once its id and owner pass.
fn target(layout: Layout, id: &str, owner: Option<&Owner>) -> Result<(SessionId, SessionKeys), SessionError> {
    let id = parse_id(id)?;
    if let Some(owner) = owner {
        validate_owner(owner).map_err(SessionError::InvalidInput)?;
    }
    let keys = layout.session_keys(&id);
    Ok((id, keys))
}

/// The state writes of one batch: the session's own keys always; the app's
/// and user's only in the document's layout (see `apply_shared_state`).
pub(crate) fn state_ops(
    layout: Layout,
    keys: &SessionKeys,
    owner: Option<&Owner>,
    split: &SplitState,
    with_shared: bool,
) -> Vec<Op> {
    let mut ops = Vec::new();
    if !split.session.is_empty() {
        ops.push(Op::HashSet { key: keys.state.clone(), fields: split.session.clone() });
    }
    if with_shared
        && layout == Layout::Document
        && let Some(owner) = owner
    {
        if !split.app.is_empty() {
            ops.push(Op::HashSet { key: layout.app_state(&owner.app_name), fields: split.app.clone() });
        }
        if !split.user.is_empty() {
            ops.push(Op::HashSet {
                key: layout.user_state(&owner.app_name, &owner.user_id),
                fields: split.user.clone(),
            });
        }
    }
    ops
}

/// HGETALL of the app's and the user's state hashes.
pub(crate) fn shared_state_reads(layout: Layout, owner: &Owner) -> [Op; 2] {
    [
        Op::HashGetAll(layout.app_state(&owner.app_name)),
        Op::HashGetAll(layout.user_state(&owner.app_name, &owner.user_id)),
    ]
}

/// A state hash's fields as a map, each value checked to be JSON.
pub(crate) fn state_map(id: &str, key: &str, fields: Vec<(String, String)>) -> Result<StateMap, SessionError> {
    let mut map = BTreeMap::new();
    for (field, value) in fields {
        let json = RawValue::from_string(value).map_err(|e| {
            SessionError::DataCorrupt(Corruption {
                session_id: id.to_owned(),
                key: key.to_owned(),
                field: field.clone(),
                message: format!("not JSON: {e}"),
            })
        })?;
        map.insert(field, json);
    }
    Ok(map)
}

fn too_few() -> SessionError {
    SessionError::backend("storage returned fewer replies than ops")
}

/// The receipt of a write whose ops began with `skip` ops of its own, then
/// the touch (version first) and ended with LLEN.
fn receipt_of(
    id: &SessionId,
    applied: &Applied,
    now: crate::timestamp::Timestamp,
    skip: usize,
) -> Result<ItemsReceipt, SessionError> {
    // The touch's HINCRBY follows the op's own writes and the state writes,
    // which all reply with integers: find it by position from the end.
    let replies = &applied.replies;
    let touch_len = 7 + if applied.owner.is_some() { 2 } else { 0 };
    let version_at = replies.len().checked_sub(touch_len + 1).filter(|at| *at >= skip).ok_or_else(too_few)?;
    let version = version_of(replies[version_at].clone())?;
    let count = replies.last().cloned().ok_or_else(too_few)?.into_integer()?.max(0) as u64;
    Ok(ItemsReceipt {
        id: id.to_string(),
        version,
        count,
        updated_at: now,
        updated_at_ms: now.unix_millis(),
        created: false,
    })
}

fn parse_item(id: &str, key: &str, text: String, position: u64) -> Result<Json, SessionError> {
    RawValue::from_string(text).map_err(|e| {
        SessionError::DataCorrupt(Corruption {
            session_id: id.to_owned(),
            key: key.to_owned(),
            field: position.to_string(),
            message: format!("item {position} is not JSON: {e}"),
        })
    })
}

fn parse_items(id: &str, key: &str, texts: Vec<String>, first: u64) -> Result<Vec<Json>, SessionError> {
    texts.into_iter().enumerate().map(|(at, text)| parse_item(id, key, text, first + at as u64)).collect()
}

/// The positions a query asks for.
#[derive(Debug, Clone, Copy)]
enum ItemRange {
    /// The newest N (0: none, only a count).
    Last(u64),
    /// Positions `start..=stop` from the oldest.
    Span { start: u64, stop: u64 },
}

impl ItemRange {
    fn of(query: &ItemsQuery) -> Result<Self, SessionError> {
        let invalid = |message: String| Err(SessionError::InvalidInput(message));
        match (query.last, query.start, query.stop) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => invalid("give either last or start/stop, not both".into()),
            (Some(last), None, None) => Ok(ItemRange::Last(u64::from(last))),
            (None, None, None) => Ok(ItemRange::Last(MAX_ITEMS)),
            (None, start, stop) => {
                let start = start.unwrap_or(0);
                let stop = stop.unwrap_or(start.saturating_add(i64::from(MAX_ITEMS_PER_READ) - 1));
                if start < 0 || stop < start {
                    return invalid(format!(
                        "start {start} and stop {stop} must be positions from the oldest item (0), with start <= stop; use last for the newest"
                    ));
                }
                Ok(ItemRange::Span { start: start as u64, stop: stop as u64 })
            }
        }
    }

    /// The LRANGE indexes, capped at the per-read item limit (newest kept);
    /// `None` when nothing is to be read.
    fn redis_range(self) -> Option<(i64, i64)> {
        let cap = u64::from(MAX_ITEMS_PER_READ);
        match self {
            ItemRange::Last(0) => None,
            ItemRange::Last(n) => Some((-(n.min(cap) as i64), -1)),
            ItemRange::Span { start, stop } => {
                let start = start.max(stop.saturating_sub(cap - 1));
                Some((start as i64, stop as i64))
            }
        }
    }

    /// The first position asked for and how many items that asks for,
    /// given the list's length.
    fn positions(self, total: u64) -> (u64, u64) {
        match self {
            ItemRange::Last(n) => {
                let n = n.min(total);
                (total - n, n)
            }
            ItemRange::Span { start, stop } => {
                if start >= total {
                    (total, 0)
                } else {
                    (start, stop.min(total - 1) - start + 1)
                }
            }
        }
    }
}
