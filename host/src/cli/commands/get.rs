//! `sessions get`.

use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// Print a session.
#[derive(Debug, Args)]
pub struct Get {
    /// Session id (a UUID, or a caller-chosen id; see create --id).
    id: String,
}

impl Get {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let session = context.store.get(&self.id).await?;
        context.show(output::document(&session), output::session_text(&session));
        Ok(Finding::Done)
    }
}
