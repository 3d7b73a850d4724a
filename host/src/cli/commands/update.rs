//! `sessions update`.

use clap::Args;
use clap::builder::PossibleValuesParser;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::fields::{CLEARABLE_FIELDS, DataFlags};
use crate::cli::{Failure, input, output};

/// Change fields of a session; bumps its version and resets its TTL.
#[derive(Debug, Args)]
pub struct Update {
    /// Session id (a UUID, or a caller-chosen id; see create --id).
    id: String,
    #[command(flatten)]
    fields: DataFlags,
    /// Reset a field to absent (repeatable).
    #[arg(long, value_name = "FIELD", value_parser = PossibleValuesParser::new(CLEARABLE_FIELDS))]
    clear: Vec<String>,
    /// Only update if the session is at this version (compare-and-set);
    /// exit 4 otherwise.
    #[arg(long, value_name = "N")]
    expect_version: Option<u64>,
    /// Read the changes from a JSON object; "-" reads stdin.
    #[arg(long, value_name = "FILE")]
    from_json: Option<String>,
}

impl Update {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let flags = self.fields.into_document();
        let changes = input::update_input(self.from_json.as_deref(), flags, self.clear, self.expect_version)?;
        let session = context.store.update(&self.id, changes).await?;
        context.show(output::document(&session), output::session_text(&session));
        Ok(Finding::Done)
    }
}
