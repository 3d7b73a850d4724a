//! `sessions add-items`: the file's items in calls of at most 1000 items
//! and 2 MiB, in order; prints the last call's receipt.

use agent_sessions_host::SessionCreate;
use agent_sessions_host::conversation::{ItemsAppend, ItemsReceipt, MAX_APPEND_BYTES, MAX_ITEMS_PER_APPEND};
use clap::Args;
use serde_json::value::RawValue;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;
use crate::cli::{Failure, input};

/// Append items to a session's conversation and print the receipt.
///
/// The receipt says the session's version and item count afterwards.
/// Each call appends up to 1000 items (2 MiB) as one atomic step; more
/// are sent in several calls, in order, and if one fails the earlier
/// ones stay. Refreshes the session's TTL and bumps its version.
#[derive(Debug, Args)]
pub struct AddItems {
    /// Session id.
    id: String,
    /// The items: a JSON array, or JSON Lines (one item per line);
    /// "-" reads stdin. Each item is stored as the JSON text given.
    #[arg(long, value_name = "FILE", required = true)]
    from_json: String,
    /// Keep only the newest N items (1 to 10000), trimmed in the same
    /// step; without it a session holds at most 10000 items.
    #[arg(long, value_name = "N")]
    keep_last: Option<u32>,
    /// Only append if the session is at this version (compare-and-set);
    /// exit 4 otherwise. Later calls of a split append each expect the
    /// version the previous one left.
    #[arg(long, value_name = "N")]
    expect_version: Option<u64>,
    /// If no live session has this id, create one with this model_id
    /// (and the --app-name/--user-id owner) first.
    #[arg(long, value_name = "MODEL_ID")]
    create_if_missing: Option<String>,
    #[command(flatten)]
    owner: OwnerFlags,
}

impl AddItems {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let items = input::read_items(&self.from_json)?;
        let total = items.len();
        let owner = self.owner.owner();
        let mut expected = self.expect_version;
        let mut create = self.create_if_missing.map(|model_id| SessionCreate { model_id, ..SessionCreate::default() });
        let mut last: Option<ItemsReceipt> = None;
        let (mut added, mut created) = (0, false);
        for chunk in chunks(items) {
            let count = chunk.len();
            let request = ItemsAppend {
                items: chunk,
                expected_version: expected,
                keep_last: self.keep_last,
                owner: owner.clone(),
                state_delta: None,
                create_if_missing: create.take(),
            };
            let receipt = match context.store.append_items(&self.id, &request).await {
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
        context.show_pretty(&receipt, || {
            format!(
                "added {total} item(s) to session {}{}: {} item(s), version {}\n",
                receipt.id,
                if created { " (created it)" } else { "" },
                receipt.count,
                receipt.version
            )
        });
        Ok(Finding::Done)
    }
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
