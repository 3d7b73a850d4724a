//! `sessions stats`.

use agent_sessions_host::Settings;
use clap::Args;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::{Failure, output};

/// Count sessions (by status, remaining TTL) and find inconsistencies,
/// walking Redis with SCAN in bounded batches (never blocks it).
#[derive(Debug, Args)]
pub struct Stats {
    /// Keys per SCAN step.
    #[arg(long, value_name = "N", default_value_t = agent_sessions_host::DEFAULT_BATCH_SIZE)]
    batch_size: u32,
}

impl Stats {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let store = &context.store;
        let store = store.with_settings(Settings { batch_size: self.batch_size, ..store.settings() })?;
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let stats = store
            .stats(|page| {
                if progress {
                    let s = &page.stats;
                    eprint!(
                        "\rsessions: stats: {} live, {} expired, {} inconsistent so far ",
                        s.sessions,
                        s.expired_awaiting_cleanup,
                        s.members_without_keys + s.keys_without_members + s.keys_without_ttl
                    );
                }
            })
            .await?;
        if progress {
            eprint!("\r\x1b[2K");
        }
        context.show(output::document(&stats), output::stats_text(&stats));
        Ok(Finding::Done)
    }
}
