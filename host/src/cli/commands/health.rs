//! `sessions health`.

use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// Check Redis (reachable, latency) and the component (loads, answers).
#[derive(Debug, Args)]
pub struct Health {}

impl Health {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let component = match &context.component {
            Some(path) => path.display().to_string(),
            None => format!("embedded ({} bytes)", agent_sessions_host::EMBEDDED_COMPONENT.len()),
        };
        let health = context.store.health().await?;
        context.show(
            output::health_json(&health, &component),
            format!(
                "storage    ok  {} (ping {:.3} ms)\ncomponent  ok  {} (call {:.3} ms)\nsessions   {} indexed\n",
                health.storage,
                output::millis(health.storage_latency),
                component,
                output::millis(health.component_latency),
                health.indexed_sessions
            ),
        );
        Ok(Finding::Done)
    }
}
