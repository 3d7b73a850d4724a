//! `sessions migrate`.

use agent_sessions_host::SessionStore;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;
use crate::cli::progress::progress;

/// Bring sessions another service wrote in the design document's layout
/// up to ours: list index entries, TTLs on the hashes, schema_version.
/// Idempotent; prints a cursor to resume from if it is cut off.
#[derive(Debug, Args)]
pub struct Migrate {
    /// Count what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Resume from this cursor (printed when a run stops).
    #[arg(long, value_name = "CURSOR", default_value = "")]
    from: String,
}

impl Migrate {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let dry_run = self.dry_run;
        let totals = migrate(&context.store, &self.from, dry_run).await?;
        context.show(
            json!({
                "dry_run": dry_run,
                "examined": totals.examined,
                "indexed": totals.indexed,
                "hash_ttls_set": totals.hash_ttls_set,
                "schema_versions_set": totals.schema_versions_set,
            }),
            format!(
                "{}examined {} session(s): {} added to the list index, {} hash TTL(s) set, {} schema_version(s) set\n",
                if dry_run { "dry run: " } else { "" },
                totals.examined,
                totals.indexed,
                totals.hash_ttls_set,
                totals.schema_versions_set
            ),
        );
        Ok(Finding::Done)
    }
}

/// Totals of a migrate run.
#[derive(Default)]
struct MigrateTotals {
    examined: u64,
    indexed: u64,
    hash_ttls_set: u64,
    schema_versions_set: u64,
    cursor: String,
}

async fn migrate(store: &SessionStore, from: &str, dry_run: bool) -> Result<MigrateTotals, Failure> {
    let bar = progress(None, if dry_run { "checking (dry run)" } else { "migrating" });
    let mut totals = MigrateTotals { cursor: from.to_owned(), ..MigrateTotals::default() };
    loop {
        let page = match store.migrate(&totals.cursor, dry_run).await {
            Ok(page) => page,
            Err(error) => {
                bar.finish_and_clear();
                if !totals.cursor.is_empty() && totals.cursor != "0" {
                    eprintln!("sessions: migrate stopped; resume with --from {}", totals.cursor);
                }
                return Err(error.into());
            }
        };
        totals.examined += page.examined;
        totals.indexed += page.indexed;
        totals.hash_ttls_set += page.hash_ttls_set;
        totals.schema_versions_set += page.schema_versions_set;
        totals.cursor = page.cursor;
        bar.inc(page.examined);
        bar.set_message(format!("migrating (resume with --from {})", totals.cursor));
        // Where to resume if this run is cut off.
        tracing::debug!(cursor = %totals.cursor, "migrate page done");
        if page.done {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(totals)
}
