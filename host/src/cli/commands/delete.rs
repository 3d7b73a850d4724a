//! `sessions delete`.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;

/// Delete a session and all its keys; exit 3 if it was not live.
#[derive(Debug, Args)]
pub struct Delete {
    /// Session id (a UUID, or a caller-chosen id; see create --id).
    id: String,
}

impl Delete {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let id = &self.id;
        let deleted = context.store.delete(id).await?;
        context.show(
            json!({ "id": id, "deleted": deleted }),
            if deleted { format!("deleted session {id}\n") } else { String::new() },
        );
        if !deleted {
            eprintln!("sessions: session {id} not found (nothing live to delete)");
            return Ok(Finding::SessionGone);
        }
        Ok(Finding::Done)
    }
}
