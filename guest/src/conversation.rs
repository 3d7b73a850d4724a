//! Conversation documents: what the items, ownership and state operations
//! take and return, and their limits. Like `model`, the one
//! definition of these shapes; `schema/sessions.schema.json` publishes them.
//!
//! Items and state values are JSON of any shape, kept as the exact text the
//! caller sent ([`RawValue`]): never re-serialised, so key order, big
//! integers and spacing inside an item survive byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::{Session, SessionCreate};
use crate::timestamp::Timestamp;

/// Most bytes of JSON text one item may have.
pub const MAX_ITEM_BYTES: usize = 512 * 1024;
/// Most items one `append-items` may add, and most bytes they may have together.
pub const MAX_ITEMS_PER_APPEND: usize = 1000;
pub const MAX_APPEND_BYTES: usize = 2 * 1024 * 1024;
/// Most items a session may hold (`keep_last` trims instead of refusing).
pub const MAX_ITEMS: u64 = 10_000;
/// Most items one read returns, and most bytes of them: a read that would
/// return more leaves out the oldest and says how many (`left_out`).
pub const MAX_ITEMS_PER_READ: u32 = 1000;
pub const READ_BUDGET_BYTES: u64 = 4 * 1024 * 1024;
/// Most bytes of items one `whole` read returns: a quarter of the guest's
/// default memory, leaving room for the reply's copies.
pub const MAX_WHOLE_READ_BYTES: u64 = 16 * 1024 * 1024;
/// How many times a `whole` read starts over when the session changes
/// between its pages.
pub const WHOLE_READ_ATTEMPTS: usize = 3;
/// State: key length, value size, keys per delta.
pub const MAX_STATE_KEY_CHARS: usize = 256;
pub const MAX_STATE_VALUE_BYTES: usize = 64 * 1024;
pub const MAX_STATE_KEYS_PER_DELTA: usize = 1000;
/// Owner names: `app_name` and `user_id` lengths.
pub const MAX_APP_NAME_CHARS: usize = 128;
pub const MAX_USER_ID_CHARS: usize = 256;

/// A JSON value kept as the text it came in.
pub type Json = Box<RawValue>;
/// State: key to JSON value.
pub type StateMap = BTreeMap<String, Json>;

/// Who a session belongs to, for frameworks that scope sessions by app and
/// user (Google ADK). Set at create, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub app_name: String,
    pub user_id: String,
}

/// Input of `append-items`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemsAppend {
    /// 1 to 1000 JSON values, appended in order, as one uninterrupted run.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<serde_json::Value>"))]
    pub items: Vec<Json>,
    /// Append only if the session is at this version (compare-and-set).
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Keep only the newest N items (1 to 10,000), trimmed in the same batch.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Append only if the session has this owner (else not-found).
    #[serde(default)]
    pub owner: Option<Owner>,
    /// State changes applied with the items: `app:` keys to the app's
    /// state, `user:` keys to the user's (owned sessions only), `temp:`
    /// keys dropped, the rest to the session's own state.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<BTreeMap<String, serde_json::Value>>"))]
    pub state_delta: Option<StateMap>,
    /// If no live session has this id, create it from this document first
    /// (its `id` is the call's); a concurrent first use creates one session.
    #[serde(default)]
    pub create_if_missing: Option<SessionCreate>,
}

/// Result of `append-items` and `clear-items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemsReceipt {
    pub id: String,
    /// The session's version after the call.
    pub version: u64,
    /// Items the session holds after the call.
    pub count: u64,
    pub updated_at: Timestamp,
    /// `updated_at` in milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
    /// Whether `create_if_missing` created the session.
    #[serde(default)]
    pub created: bool,
}

/// Input of `get-items` ("" or `{}`: every item, within the read limits).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ItemsQuery {
    /// The newest N items, oldest first; 0 reads none (a count).
    pub last: Option<u32>,
    /// Or a range of positions from the oldest item (0), both included,
    /// `start <= stop` (stop defaults to start + 999); `last` reads the newest.
    pub start: Option<i64>,
    pub stop: Option<i64>,
    /// Read only if the session has this owner (else not-found).
    pub owner: Option<Owner>,
    /// Also return the session and its state (merged with its app's and
    /// user's, under their `app:` and `user:` prefixes).
    pub include_session: bool,
    /// Every item the query selects in one page (`left_out` 0), read page
    /// by page at one version of the session: a change between pages
    /// starts over, three attempts, then a conflict. Refused (invalid
    /// input) past 16 MiB of items; read those by range.
    pub whole: bool,
}

/// Result of `get-items`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemsPage {
    pub id: String,
    /// Oldest first.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<serde_json::Value>"))]
    pub items: Vec<Json>,
    /// Items the session holds.
    pub total: u64,
    /// Position of `items[0]` in the whole list (0 the oldest).
    pub first_index: u64,
    /// Items of the asked range left out (the oldest of it) to stay within
    /// the read limits; read them with a range ending at `first_index - 1`.
    pub left_out: u64,
    pub version: u64,
    /// When the session last changed, in milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<BTreeMap<String, serde_json::Value>>"))]
    pub state: Option<StateMap>,
}

/// Conditions of a call on one session's items or on the session itself:
/// the owner it must have and the version it must be at ("" or `{}`: none).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ItemOptions {
    pub expected_version: Option<u64>,
    pub owner: Option<Owner>,
}

/// The newest item, taken off the list, and the session after.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemPopped {
    pub id: String,
    /// The newest item, now removed; null when there was none.
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub item: Option<Json>,
    pub version: u64,
    /// Items left.
    pub count: u64,
}

/// One session of `list-by-owner`: no configuration fields, no items.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OwnedSession {
    pub id: String,
    pub app_name: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_at_ms: i64,
    pub version: u64,
    /// The session's own state (without app and user state).
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, serde_json::Value>"))]
    pub state: StateMap,
}

/// Result of `list-by-owner`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OwnerPage {
    /// Newest-updated first.
    pub sessions: Vec<OwnedSession>,
    /// The app's state (keys without the `app:` prefix).
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, serde_json::Value>"))]
    pub app_state: StateMap,
    /// The state of each user of the page (keys without `user:`).
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>"))]
    pub user_states: BTreeMap<String, StateMap>,
    /// Pass to the next call; absent on the last page. A page may hold
    /// fewer than `limit` sessions (entries of expired sessions are
    /// dropped, and removed from the index) and still have a next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Entries that could not be read.
    pub corrupt: Vec<crate::model::Corruption>,
}

/// Where a state key goes, by ADK's prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateScope {
    App,
    User,
    Session,
    /// `temp:`: never stored.
    Temp,
}

pub const APP_PREFIX: &str = "app:";
pub const USER_PREFIX: &str = "user:";
pub const TEMP_PREFIX: &str = "temp:";

/// The scope of `key` and the key without its prefix.
pub fn state_scope(key: &str) -> (StateScope, &str) {
    if let Some(rest) = key.strip_prefix(APP_PREFIX) {
        (StateScope::App, rest)
    } else if let Some(rest) = key.strip_prefix(USER_PREFIX) {
        (StateScope::User, rest)
    } else if key.starts_with(TEMP_PREFIX) {
        (StateScope::Temp, key)
    } else {
        (StateScope::Session, key)
    }
}

/// A state delta split by scope, as hash fields (key, JSON text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitState {
    pub app: Vec<(String, String)>,
    pub user: Vec<(String, String)>,
    pub session: Vec<(String, String)>,
}

impl SplitState {
    pub fn is_empty(&self) -> bool {
        self.app.is_empty() && self.user.is_empty() && self.session.is_empty()
    }
}

/// Checks a state map and splits it by scope; `app:`/`user:` keys need an
/// owner. `what` names the map in messages.
pub fn split_state(state: &StateMap, owned: bool, what: &str) -> Result<SplitState, String> {
    if state.len() > MAX_STATE_KEYS_PER_DELTA {
        return Err(format!("{what} has {} keys; at most {MAX_STATE_KEYS_PER_DELTA}", state.len()));
    }
    let mut split = SplitState::default();
    for (key, value) in state {
        let chars = key.chars().count();
        if chars == 0 || chars > MAX_STATE_KEY_CHARS || key.chars().any(char::is_control) {
            return Err(format!(
                "{what}: key {} must be 1 to {MAX_STATE_KEY_CHARS} characters without control characters",
                crate::id::quote_for_message(key)
            ));
        }
        if value.get().len() > MAX_STATE_VALUE_BYTES {
            return Err(format!(
                "{what}: the value of {} has {} bytes of JSON; at most {MAX_STATE_VALUE_BYTES}",
                crate::id::quote_for_message(key),
                value.get().len()
            ));
        }
        let (scope, bare) = state_scope(key);
        let field = (bare.to_owned(), value.get().to_owned());
        match scope {
            StateScope::Temp => {}
            StateScope::Session => split.session.push(field),
            StateScope::App | StateScope::User if !owned => {
                return Err(format!(
                    "{what}: {} is app or user state, which only a session with an owner (app_name and user_id) has",
                    crate::id::quote_for_message(key)
                ));
            }
            StateScope::App => split.app.push(field),
            StateScope::User => split.user.push(field),
        }
    }
    Ok(split)
}

/// Checks an owner's names.
pub fn validate_owner(owner: &Owner) -> Result<(), String> {
    let check = |name: &str, value: &str, max: usize| {
        let chars = value.chars().count();
        if chars == 0 || chars > max || value.chars().any(char::is_control) {
            Err(format!(
                "{name} {} must be 1 to {max} characters without control characters",
                crate::id::quote_for_message(value)
            ))
        } else {
            Ok(())
        }
    };
    check("app_name", &owner.app_name, MAX_APP_NAME_CHARS)?;
    check("user_id", &owner.user_id, MAX_USER_ID_CHARS)
}

/// Checks the items of an append.
pub fn validate_items(items: &[Json]) -> Result<(), String> {
    if items.is_empty() || items.len() > MAX_ITEMS_PER_APPEND {
        return Err(format!("items: {} given; an append takes 1 to {MAX_ITEMS_PER_APPEND}", items.len()));
    }
    let mut total = 0usize;
    for (index, item) in items.iter().enumerate() {
        let len = item.get().len();
        if len > MAX_ITEM_BYTES {
            return Err(format!("items[{index}] has {len} bytes of JSON; an item may have at most {MAX_ITEM_BYTES}"));
        }
        total += len;
    }
    if total > MAX_APPEND_BYTES {
        return Err(format!(
            "items have {total} bytes of JSON together; an append may have at most {MAX_APPEND_BYTES}"
        ));
    }
    Ok(())
}
