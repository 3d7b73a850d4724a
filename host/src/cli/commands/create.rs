//! `sessions create`.

use clap::Args;
use serde_json::Value;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::fields::DataFlags;
use crate::cli::{Failure, input, output};

const FIELDS: &str = "Session fields";

/// Create a session and print it.
#[derive(Debug, Args)]
pub struct Create {
    /// Choose the session's id instead of a fresh UUID v4: a UUID
    /// (hyphenated, either case; stored lowercase) or 1 to 128 characters
    /// of A-Z, a-z, 0-9, '.', '_' and '-' (case-sensitive, stored as
    /// given). Exit 4 if a live session has it; the leftovers of an
    /// expired one are replaced.
    #[arg(long, value_name = "ID", help_heading = FIELDS)]
    id: Option<String>,
    #[command(flatten)]
    fields: DataFlags,
    /// The app the session belongs to (with --user-id): for frameworks
    /// that scope sessions by app and user (Google ADK). Never changed
    /// afterwards; `list --app-name` lists an owner's sessions.
    #[arg(long, value_name = "APP", requires = "user_id", help_heading = FIELDS)]
    app_name: Option<String>,
    /// The user the session belongs to (with --app-name).
    #[arg(long, value_name = "USER", requires = "app_name", help_heading = FIELDS)]
    user_id: Option<String>,
    /// Initial state, a JSON object of keys to JSON values: `app:` and
    /// `user:` keys go to the owner's shared state (they need
    /// --app-name and --user-id), `temp:` keys are dropped, the others
    /// are the session's own.
    #[arg(long, value_name = "JSON", help_heading = FIELDS)]
    state_json: Option<String>,
    /// Read the fields from a JSON object (design document field names;
    /// an `id` there chooses the id as --id does); "-" reads stdin.
    /// Flags override what the file says.
    #[arg(long, value_name = "FILE")]
    from_json: Option<String>,
}

impl Create {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let mut flags = self.fields.into_document();
        let owner_and_state = [
            ("id", self.id.map(Value::String)),
            ("app_name", self.app_name.map(Value::String)),
            ("user_id", self.user_id.map(Value::String)),
            ("state", self.state_json.as_deref().map(input::state).transpose()?),
        ];
        flags.extend(owner_and_state.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))));
        let input = input::create_input(self.from_json.as_deref(), flags)?;
        let session = context.store.create(input).await?;
        context.show(output::document(&session), output::session_text(&session));
        Ok(Finding::Done)
    }
}
