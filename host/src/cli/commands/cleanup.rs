//! `sessions cleanup`.

use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// Remove every expired session's leftovers; print how many.
#[derive(Debug, Args)]
pub struct Cleanup {}

impl Cleanup {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let report = context.store.cleanup_expired().await?;
        context.show(output::document(&report), output::cleanup_text(&report));
        Ok(if report.skipped > 0 { Finding::UnreadableEntries } else { Finding::Done })
    }
}
