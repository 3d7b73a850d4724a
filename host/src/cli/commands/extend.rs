//! `sessions extend`.

use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;

/// Reset a session's TTL (and last_activity); exit 3 if it is gone.
#[derive(Debug, Args)]
pub struct Extend {
    /// Session id (a UUID, or a caller-chosen id; see create --id).
    id: String,
}

impl Extend {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let id = &self.id;
        let extended = context.store.extend_ttl(id).await?;
        let ttl = context.store.settings().session_ttl_seconds;
        context.show(
            json!({ "id": id, "extended": extended, "ttl_seconds": ttl }),
            if extended { format!("session {id} now expires in {ttl} s\n") } else { String::new() },
        );
        if !extended {
            eprintln!("sessions: session {id} not found (expired or deleted)");
            return Ok(Finding::SessionGone);
        }
        Ok(Finding::Done)
    }
}
