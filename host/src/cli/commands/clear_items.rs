//! `sessions clear-items`.

use agent_sessions_host::conversation::ItemOptions;
use clap::Args;

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;

/// Remove every item of a session; the session and its state stay.
#[derive(Debug, Args)]
pub struct ClearItems {
    /// Session id.
    id: String,
    /// Only if the session is at this version; exit 4 otherwise.
    #[arg(long, value_name = "N")]
    expect_version: Option<u64>,
    #[command(flatten)]
    owner: OwnerFlags,
}

impl ClearItems {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let options = ItemOptions { expected_version: self.expect_version, owner: self.owner.owner() };
        let receipt = context.store.clear_items(&self.id, &options).await?;
        context.show_pretty(&receipt, || {
            format!("removed every item of session {} (version {})\n", receipt.id, receipt.version)
        });
        Ok(Finding::Done)
    }
}
