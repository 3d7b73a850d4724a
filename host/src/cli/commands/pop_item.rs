//! `sessions pop-item`.

use agent_sessions_host::conversation::ItemOptions;
use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;
use crate::cli::{Failure, output};

/// Remove a session's newest item and print it.
///
/// A session without items prints nothing and writes nothing (exit 0).
#[derive(Debug, Args)]
pub struct PopItem {
    /// Session id.
    id: String,
    /// Only if the session is at this version; exit 4 otherwise.
    #[arg(long, value_name = "N")]
    expect_version: Option<u64>,
    #[command(flatten)]
    owner: OwnerFlags,
}

impl PopItem {
    /// Prints the removed item on one line, or nothing.
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let options = ItemOptions { expected_version: self.expect_version, owner: self.owner.owner() };
        let popped = context.store.pop_item(&self.id, &options).await?;
        if context.json {
            outln!("{}", output::pretty(&popped));
        } else if let Some(item) = &popped.item {
            outln!("{}", output::one_line(item.get()));
        } else {
            eprintln!("sessions: session {} has no items; nothing removed", self.id);
        }
        Ok(Finding::Done)
    }
}
