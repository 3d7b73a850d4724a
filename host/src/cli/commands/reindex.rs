//! `sessions reindex`.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;

/// Add sessions written by another service to the list index.
#[derive(Debug, Args)]
pub struct Reindex {}

impl Reindex {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let indexed = context.store.reindex().await?;
        context.show(json!({ "indexed": indexed }), format!("added {indexed} session(s) to the list index\n"));
        Ok(Finding::Done)
    }
}
