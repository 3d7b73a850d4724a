//! `sessions export`: every live session as JSON Lines, `{"id", "data",
//! "meta", "ttl_ms"}` with both hashes as stored.

use std::io::{BufWriter, Write};
use std::time::Instant;

use agent_sessions_host::SessionStore;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::exit_code::Finding;
use crate::cli::input::InputError;
use crate::cli::progress::progress;
use crate::cli::{Failure, output};

/// Write every live session as JSON Lines (both hashes as stored and
/// the remaining TTL), streamed; progress on stderr when it is a terminal.
#[derive(Debug, Args)]
pub struct Export {
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<String>,
}

impl Export {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let (written, seconds) = export(&context.store, self.output.as_deref()).await?;
        let rate = written as f64 / seconds.max(1e-9);
        let summary = json!({ "exported": written, "seconds": seconds, "sessions_per_second": rate });
        match &self.output {
            // The sessions went to a file: the summary can use stdout.
            Some(path) => context.show(summary, format!("exported {written} session(s) to {path} ({rate:.0}/s)\n")),
            None if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                eprintln!("exported {written} session(s) ({rate:.0}/s)")
            }
            None => {}
        }
        Ok(Finding::Done)
    }
}

/// Streams every live session to `output` (stdout when `None`); returns
/// how many were written.
async fn export(store: &SessionStore, output: Option<&str>) -> Result<(u64, f64), Failure> {
    let started = Instant::now();
    let sink: Box<dyn Write> = match output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| InputError(format!("cannot create {path}: {e}")))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = BufWriter::new(sink);
    let bar = progress(None, "exporting");
    let (mut cursor, mut written) = (String::new(), 0u64);
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = store.export_sessions(&cursor).await?;
        for session in page.sessions {
            // SSCAN may return a member twice; write each session once.
            if !seen.insert(session.id.clone()) {
                continue;
            }
            let line = output::document(&session);
            if let Err(error) = writeln!(sink, "{line}") {
                // `sessions export | head`: the reader has what it wanted.
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
                return Err(InputError(format!("cannot write the export: {error}")).into());
            }
            written += 1;
            bar.inc(1);
        }
        if page.done {
            break;
        }
        cursor = page.cursor;
    }
    if let Err(error) = sink.flush() {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        return Err(InputError(format!("cannot write the export: {error}")).into());
    }
    bar.finish_and_clear();
    Ok((written, started.elapsed().as_secs_f64()))
}
