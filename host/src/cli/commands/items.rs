//! `sessions items`: a session's conversation items, all of them (older
//! pages read until nothing is left out), oldest first.

use agent_sessions_host::conversation::{ItemsPage, ItemsQuery, MAX_ITEMS, MAX_ITEMS_PER_READ};
use agent_sessions_host::{Error, SessionStore};
use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;
use crate::cli::{Failure, output};

/// How many times a read of several pages starts over when the session
/// changed between its pages.
const READ_ATTEMPTS: usize = 3;

/// Print a session's conversation items, oldest first.
///
/// One JSON item per line (an item stored over several lines is printed
/// on one); with --json, the `items-page` document. Every item unless
/// --limit or --range says otherwise, read in pages of up to 1000.
/// Exit 3 if the session is not live.
#[derive(Debug, Args)]
pub struct Items {
    /// Session id.
    id: String,
    /// Only the newest N items (0 prints none; count-items counts).
    #[arg(long, value_name = "N", conflicts_with = "range")]
    limit: Option<u32>,
    /// Only the items at positions START to STOP, both included (0 is
    /// the oldest); START: reads from START to the newest.
    #[arg(long, value_name = "START:STOP", value_parser = parse_range)]
    range: Option<ItemRange>,
    #[command(flatten)]
    pub owner: OwnerFlags,
}

impl Items {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let position = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut query = ItemsQuery { last: self.limit, owner: self.owner.owner(), ..ItemsQuery::default() };
        let mut floor = 0;
        match self.range {
            Some(ItemRange { start, stop: Some(stop) }) => {
                (query.start, query.stop) = (Some(position(start)), Some(position(stop)))
            }
            // From START to the newest: the newest items, read back to START.
            Some(ItemRange { start, stop: None }) => (query.last, floor) = (Some(MAX_ITEMS as u32), start),
            None => {}
        }
        let page = read_all(&context.store, &self.id, &query, floor).await?;
        context.show_pretty(&page, || page.items.iter().map(|item| output::one_line(item.get()) + "\n").collect());
        Ok(Finding::Done)
    }
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

/// `items --range START:STOP`: positions from the oldest item (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRange {
    pub start: u64,
    /// None: to the newest.
    pub stop: Option<u64>,
}

/// Parses `START:STOP` or `START:`.
fn parse_range(text: &str) -> Result<ItemRange, String> {
    let invalid =
        || format!("invalid range '{text}': use START:STOP or START: with positions from 0 (the oldest item)");
    let (start, stop) = text.split_once(':').ok_or_else(invalid)?;
    // Digits only (no sign), at most i64::MAX: what the component takes.
    let position =
        |part: &str| part.parse::<i64>().ok().filter(|_| part.bytes().all(|b| b.is_ascii_digit())).map(|n| n as u64);
    let start = position(start).ok_or_else(invalid)?;
    let stop = match stop {
        "" => None,
        stop => Some(position(stop).ok_or_else(invalid)?),
    };
    if stop.is_some_and(|stop| stop < start) {
        return Err(format!("invalid range '{text}': STOP must not be before START"));
    }
    Ok(ItemRange { start, stop })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ranges() {
        assert_eq!(parse_range("0:9"), Ok(ItemRange { start: 0, stop: Some(9) }));
        assert_eq!(parse_range("5:5"), Ok(ItemRange { start: 5, stop: Some(5) }));
        assert_eq!(parse_range("12:"), Ok(ItemRange { start: 12, stop: None }));
        for text in ["", ":", ":5", "5", "-1:3", "+1:3", "1:-1", "a:b", "1:2:3", " 1:2", "99999999999999999999:"] {
            assert!(parse_range(text).unwrap_err().contains("START:STOP"), "{text:?}");
        }
        assert!(parse_range("5:2").unwrap_err().contains("before START"));
    }
}
