//! `sessions items`: a session's conversation items, all of them (the
//! component reads every page at one version), oldest first.

use agent_sessions_host::conversation::ItemsQuery;
use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;
use crate::cli::{Failure, output};

/// Print a session's conversation items, oldest first.
///
/// One JSON item per line (an item stored over several lines is printed
/// on one); with --json, the `items-page` document. Every item unless
/// --limit or --range says otherwise, in one consistent read (at most 16 MiB).
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
        if let Some(ItemRange { start, stop }) = self.range {
            // `START:` reads to the newest item, however many there are.
            (query.start, query.stop) = (Some(position(start)), Some(stop.map_or(i64::MAX, position)));
        }
        // The component reads every page at one version of the session.
        let page = context.store.get_all_items(&self.id, query).await?;
        context.show_pretty(&page, || page.items.iter().map(|item| output::one_line(item.get()) + "\n").collect());
        Ok(Finding::Done)
    }
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
