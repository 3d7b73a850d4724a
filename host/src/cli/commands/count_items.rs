//! `sessions count-items`: one read that returns no items.

use agent_sessions_host::conversation::ItemsQuery;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::owner::OwnerFlags;
use crate::cli::{Failure, output};

/// Print how many items a session holds.
#[derive(Debug, Args)]
pub struct CountItems {
    /// Session id.
    id: String,
    #[command(flatten)]
    owner: OwnerFlags,
}

impl CountItems {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let query = ItemsQuery { last: Some(0), owner: self.owner.owner(), ..ItemsQuery::default() };
        let page = context.store.get_items(&self.id, &query).await?;
        if context.json {
            outln!("{}", output::pretty(&json!({ "id": page.id, "count": page.total, "version": page.version })));
        } else {
            outln!("{}", page.total);
        }
        Ok(Finding::Done)
    }
}
