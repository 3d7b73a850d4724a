//! The conversation commands: `items`, `add-items`, `pop-item`,
//! `clear-items`, `count-items`, and `list --app-name` (an owner's
//! sessions). Each is one component call, except reads past one call's
//! limits (1000 items, 4 MiB), which page backwards, and appends of more
//! than one call's 1000 items (2 MiB), which are split in order.

use agent_sessions_host::conversation::{
    ItemOptions, ItemsAppend, ItemsPage, ItemsQuery, ItemsReceipt, MAX_APPEND_BYTES, MAX_ITEMS, MAX_ITEMS_PER_APPEND,
    MAX_ITEMS_PER_READ, Owner,
};
use agent_sessions_host::{Error, SessionCreate, SessionStore};
use serde_json::json;
use serde_json::value::RawValue;

use super::args::{ItemRange, OwnerFlags};
use super::exit_code::Finding;
use super::{Failure, input, output};

/// How many times a read of several pages starts over when the session
/// changed between its pages.
const READ_ATTEMPTS: usize = 3;

/// The owner the flags name (clap makes them come in pairs).
pub fn owner(flags: &OwnerFlags) -> Option<Owner> {
    match (&flags.app_name, &flags.user_id) {
        (Some(app_name), Some(user_id)) => Some(Owner { app_name: app_name.clone(), user_id: user_id.clone() }),
        _ => None,
    }
}

/// `sessions items`: the asked items, all of them (older pages read until
/// nothing is left out), oldest first.
pub async fn items(
    store: &SessionStore,
    id: &str,
    limit: Option<u32>,
    range: Option<ItemRange>,
    owner: Option<Owner>,
    json: bool,
) -> Result<Finding, Failure> {
    let position = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut query = ItemsQuery { last: limit, owner, ..ItemsQuery::default() };
    let mut floor = 0;
    match range {
        Some(ItemRange { start, stop: Some(stop) }) => {
            (query.start, query.stop) = (Some(position(start)), Some(position(stop)))
        }
        // From START to the newest: the newest items, read back to START.
        Some(ItemRange { start, stop: None }) => (query.last, floor) = (Some(MAX_ITEMS as u32), start),
        None => {}
    }
    let page = read_all(store, id, &query, floor).await?;
    if json {
        outln!("{}", output::pretty(&page));
    } else {
        let mut text = String::new();
        for item in &page.items {
            text.push_str(&output::one_line(item.get()));
            text.push('\n');
        }
        out!("{text}");
    }
    Ok(Finding::Done)
}

/// One query's items, with the older ones a single read left out read
/// too (none before position `floor`), consistently: if the session
/// changes between the reads, they start over.
async fn read_all(store: &SessionStore, id: &str, query: &ItemsQuery, floor: u64) -> Result<ItemsPage, Error> {
    'attempt: for _ in 0..READ_ATTEMPTS {
        let mut page = store.get_items(id, query).await?;
        let before_floor = floor.saturating_sub(page.first_index).min(page.items.len() as u64);
        page.items.drain(..before_floor as usize);
        page.first_index += before_floor;
        let wanted = (page.first_index - page.left_out).max(floor).min(page.first_index);
        page.left_out = page.first_index - wanted;
        while page.first_index > wanted {
            let start = wanted.max(page.first_index.saturating_sub(u64::from(MAX_ITEMS_PER_READ)));
            let older = ItemsQuery {
                start: Some(start as i64),
                stop: Some(page.first_index as i64 - 1),
                owner: query.owner.clone(),
                ..ItemsQuery::default()
            };
            let older = store.get_items(id, &older).await?;
            if older.version != page.version {
                continue 'attempt;
            }
            if older.items.is_empty() {
                break;
            }
            page.left_out -= page.first_index - older.first_index;
            page.first_index = older.first_index;
            let mut items = older.items;
            items.append(&mut page.items);
            page.items = items;
        }
        return Ok(page);
    }
    Err(Error::Conflict(format!("session {id} kept changing while its items were read")))
}

/// What `sessions add-items` reads and sends.
pub struct AddItems<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub keep_last: Option<u32>,
    pub expect_version: Option<u64>,
    pub create_if_missing: Option<String>,
    pub owner: Option<Owner>,
}

/// `sessions add-items`: the file's items in calls of at most 1000 items
/// and 2 MiB, in order; prints the last call's receipt.
pub async fn add_items(store: &SessionStore, add: AddItems<'_>, json: bool) -> Result<Finding, Failure> {
    let items = input::read_items(add.source)?;
    let total = items.len();
    let mut expected = add.expect_version;
    let mut create = add.create_if_missing.map(|model_id| SessionCreate { model_id, ..SessionCreate::default() });
    let mut last: Option<ItemsReceipt> = None;
    let (mut added, mut created) = (0, false);
    for chunk in chunks(items) {
        let count = chunk.len();
        let request = ItemsAppend {
            items: chunk,
            expected_version: expected,
            keep_last: add.keep_last,
            owner: add.owner.clone(),
            state_delta: None,
            create_if_missing: create.take(),
        };
        let receipt = match store.append_items(add.id, &request).await {
            Ok(receipt) => receipt,
            Err(error) => {
                if added > 0 {
                    eprintln!("sessions: {added} of {total} item(s) were added before this failure");
                }
                return Err(error.into());
            }
        };
        added += count;
        created |= receipt.created;
        // A split append goes on only from the version it left.
        if expected.is_some() {
            expected = Some(receipt.version);
        }
        last = Some(receipt);
    }
    let Some(mut receipt) = last else { unreachable!("read_items returns at least one item") };
    receipt.created = created;
    if json {
        outln!("{}", output::pretty(&receipt));
    } else {
        out!(
            "added {total} item(s) to session {}{}: {} item(s), version {}\n",
            receipt.id,
            if created { " (created it)" } else { "" },
            receipt.count,
            receipt.version
        );
    }
    Ok(Finding::Done)
}

/// Consecutive runs of at most [`MAX_ITEMS_PER_APPEND`] items and
/// [`MAX_APPEND_BYTES`] bytes (an item bigger than that goes alone, for the
/// component to refuse).
fn chunks(items: Vec<Box<RawValue>>) -> Vec<Vec<Box<RawValue>>> {
    let mut chunks: Vec<Vec<Box<RawValue>>> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let len = item.get().len();
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < MAX_ITEMS_PER_APPEND && bytes + len <= MAX_APPEND_BYTES => {
                bytes += len;
                chunk.push(item);
            }
            _ => {
                bytes = len;
                chunks.push(vec![item]);
            }
        }
    }
    chunks
}

/// `sessions pop-item`: the removed item on one line, or nothing.
pub async fn pop_item(store: &SessionStore, id: &str, options: ItemOptions, json: bool) -> Result<Finding, Failure> {
    let popped = store.pop_item(id, &options).await?;
    if json {
        outln!("{}", output::pretty(&popped));
    } else if let Some(item) = &popped.item {
        outln!("{}", output::one_line(item.get()));
    } else {
        eprintln!("sessions: session {id} has no items; nothing removed");
    }
    Ok(Finding::Done)
}

/// `sessions clear-items`.
pub async fn clear_items(store: &SessionStore, id: &str, options: ItemOptions, json: bool) -> Result<Finding, Failure> {
    let receipt = store.clear_items(id, &options).await?;
    if json {
        outln!("{}", output::pretty(&receipt));
    } else {
        out!("removed every item of session {} (version {})\n", receipt.id, receipt.version);
    }
    Ok(Finding::Done)
}

/// `sessions count-items`: one read that returns no items.
pub async fn count_items(store: &SessionStore, id: &str, owner: Option<Owner>, json: bool) -> Result<Finding, Failure> {
    let page = store.get_items(id, &ItemsQuery { last: Some(0), owner, ..ItemsQuery::default() }).await?;
    if json {
        outln!("{}", output::pretty(&json!({ "id": page.id, "count": page.total, "version": page.version })));
    } else {
        outln!("{}", page.total);
    }
    Ok(Finding::Done)
}

/// `sessions list --app-name`: a page of an owner's sessions.
pub async fn list_by_owner(
    store: &SessionStore,
    app_name: &str,
    user_id: Option<&str>,
    limit: u32,
    page_token: Option<&str>,
    json: bool,
) -> Result<Finding, Failure> {
    let page = store.list_by_owner(app_name, user_id.unwrap_or(""), limit, page_token.unwrap_or("")).await?;
    if json {
        outln!("{}", output::pretty(&page));
    } else {
        out!("{}", output::owner_page_text(&page));
    }
    Ok(if page.corrupt.is_empty() { Finding::Done } else { Finding::UnreadableEntries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn appends_are_split_by_count_and_bytes_in_order() {
        let many: Vec<Box<RawValue>> = (0..2500).map(|n| item(&n.to_string())).collect();
        let split = chunks(many);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 1000, 500]);
        assert_eq!((split[1][0].get(), split[2][499].get()), ("1000", "2499"));

        let big = format!("\"{}\"", "x".repeat(500 * 1024));
        let split = chunks((0..9).map(|_| item(&big)).collect());
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1], "at most 2 MiB per call");
        let huge = format!("\"{}\"", "x".repeat(MAX_APPEND_BYTES));
        let split = chunks(vec![item("1"), item(&huge), item("2")]);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
