//! `sessions import`: sessions from JSON Lines, `sessions export` lines or
//! the typed form `sessions get --json` prints (how sessions from another
//! store come in). Every line is validated through the component first,
//! then written in batches. Progress goes to stderr when it is a terminal.

use std::io::BufRead;
use std::time::Instant;

use agent_sessions_host::{ConflictPolicy, ImportRecord, ImportReport, RejectReason, SessionStore};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::Context;
use crate::cli::Failure;
use crate::cli::exit_code::Finding;
use crate::cli::input::InputError;
use crate::cli::progress::progress;

/// Records per validation call (the component takes at most 1000).
const VALIDATE_CHUNK: usize = 1000;

/// Load sessions from JSON Lines: `sessions export` lines, or the typed
/// form `sessions get --json` prints (sessions from another store). Every
/// line is validated first; nothing is written if one is bad.
#[derive(Debug, Args)]
pub struct Import {
    /// The file, or "-" for stdin.
    #[arg(value_name = "FILE")]
    source: String,
    /// What to do with a session whose id is already stored.
    #[arg(long, value_enum, default_value_t = OnConflict::Skip)]
    on_conflict: OnConflict,
    /// Import the valid lines and report the bad ones, instead of
    /// writing nothing.
    #[arg(long)]
    skip_invalid: bool,
    /// Sessions per Redis round trip.
    #[arg(long, value_name = "N", default_value_t = 500)]
    batch: usize,
    /// Validate and count, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `import --on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnConflict {
    /// Keep the stored session.
    Skip,
    /// Replace it with the line's.
    Overwrite,
    /// Write nothing if any line's id is stored (exit 4).
    Fail,
}

impl Import {
    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        let (source, dry_run) = (&self.source, self.dry_run);
        let options = ImportOptions {
            on_conflict: match self.on_conflict {
                OnConflict::Skip => ConflictPolicy::Skip,
                OnConflict::Overwrite => ConflictPolicy::Overwrite,
                OnConflict::Fail => ConflictPolicy::Fail,
            },
            skip_invalid: self.skip_invalid,
            batch: self.batch,
            dry_run,
        };
        let outcome = import(&context.store, source, options).await?;
        for (number, message) in &outcome.bad_lines {
            eprintln!("sessions: {source}:{number}: {message}");
        }
        let r = &outcome.report;
        let rate = (r.imported + r.overwritten + r.skipped) as f64 / outcome.seconds.max(1e-9);
        context.show(
            json!({
                "lines": outcome.lines,
                "imported": r.imported,
                "overwritten": r.overwritten,
                "skipped": r.skipped,
                "invalid": outcome.bad_lines.len(),
                "written": !outcome.refused && !dry_run,
                "seconds": outcome.seconds,
                "sessions_per_second": rate,
                "bad_lines": outcome.bad_lines.iter().map(|(n, m)| json!({ "line": n, "message": m })).collect::<Vec<_>>(),
            }),
            if outcome.refused {
                format!("{} of {} line(s) are bad; nothing was written\n", outcome.bad_lines.len(), outcome.lines)
            } else {
                format!(
                    "{}{} imported, {} overwritten, {} skipped (already stored), {} invalid, of {} line(s) ({rate:.0}/s)\n",
                    if dry_run { "dry run: would have " } else { "" },
                    r.imported,
                    r.overwritten,
                    r.skipped,
                    outcome.bad_lines.len(),
                    outcome.lines
                )
            },
        );
        if outcome.refused {
            return Ok(Finding::ImportRefused { ids_taken: outcome.ids_taken });
        }
        Ok(Finding::Done)
    }
}

/// One line of an import file as a record, or why it is not one. The
/// record's rules (stored or typed form, defaults, unknown fields) are the
/// shared schema's, in `ImportRecord`'s JSON form.
fn parse_line(line: &str) -> Result<ImportRecord, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    match ImportRecord::from_json(value) {
        ImportRecord::Unreadable(message) => Err(message),
        record => Ok(record),
    }
}

struct ImportOptions {
    on_conflict: ConflictPolicy,
    skip_invalid: bool,
    batch: usize,
    dry_run: bool,
}

/// What an import did, for the summary.
struct ImportOutcome {
    lines: u64,
    report: ImportReport,
    /// `(line number, why)` of every bad line.
    bad_lines: Vec<(usize, String)>,
    seconds: f64,
    /// Lines were bad and nothing was written.
    refused: bool,
    /// Some of the refusals were ids already stored (conflict policy fail).
    ids_taken: bool,
}

/// Numbered lines, or why one could not be read.
type NumberedLines<'a> = Box<dyn Iterator<Item = Result<(usize, String), InputError>> + 'a>;

/// Where the lines come from. A file is read once per pass, so an import
/// holds only one batch in memory; stdin can be read once, so its lines are
/// kept.
enum Lines {
    File(String),
    Stdin(Vec<String>),
}

impl Lines {
    fn open(source: &str) -> Result<Self, InputError> {
        if source != "-" {
            std::fs::metadata(source).map_err(|e| InputError(format!("cannot read {source}: {e}")))?;
            return Ok(Lines::File(source.to_owned()));
        }
        let lines = std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>();
        Ok(Lines::Stdin(lines.map_err(|e| InputError(format!("cannot read stdin: {e}")))?))
    }

    /// Every non-blank line with its number (from 1).
    fn each(&self) -> Result<NumberedLines<'_>, InputError> {
        let numbered = |(index, line): (usize, Result<String, std::io::Error>)| {
            line.map(|line| (index + 1, line)).map_err(|e| InputError(format!("cannot read line {}: {e}", index + 1)))
        };
        let lines: NumberedLines<'_> = match self {
            Lines::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| InputError(format!("cannot read {path}: {e}")))?;
                Box::new(std::io::BufReader::new(file).lines().enumerate().map(numbered))
            }
            Lines::Stdin(lines) => Box::new(lines.iter().cloned().enumerate().map(|(i, l)| Ok((i + 1, l)))),
        };
        Ok(Box::new(lines.filter(|line| !matches!(line, Ok((_, text)) if text.trim().is_empty()))))
    }
}

/// Reads `source` ("-": stdin), validates every line, then writes.
async fn import(store: &SessionStore, source: &str, options: ImportOptions) -> Result<ImportOutcome, Failure> {
    let started = Instant::now();
    let lines = Lines::open(source)?;
    let mut total = 0u64;
    for line in lines.each()? {
        line?;
        total += 1;
    }

    // Validation pass: the component checks every record, writing nothing.
    let bar = progress(Some(total), "validating");
    let mut bad_lines = Vec::new();
    let mut conflicts = false;
    let mut chunk: Vec<(usize, ImportRecord)> = Vec::with_capacity(VALIDATE_CHUNK);
    let mut lines_iter = lines.each()?;
    loop {
        let next = lines_iter.next().transpose()?;
        if let Some((number, line)) = &next {
            match parse_line(line) {
                Ok(record) => chunk.push((*number, record)),
                Err(message) => bad_lines.push((*number, message)),
            }
            bar.inc(1);
        }
        if chunk.len() == VALIDATE_CHUNK || (next.is_none() && !chunk.is_empty()) {
            let records = chunk.iter().map(|(_, r)| r.clone()).collect();
            let report = store.import_sessions(records, options.on_conflict, true).await?;
            for rejected in report.rejected {
                conflicts |= rejected.reason == RejectReason::IdTaken;
                bad_lines.push((chunk[rejected.index as usize].0, rejected.message));
            }
            chunk.clear();
        }
        if next.is_none() {
            break;
        }
    }
    bar.finish_and_clear();
    bad_lines.sort_by_key(|(number, _)| *number);
    let mut outcome = ImportOutcome {
        lines: total,
        report: ImportReport::default(),
        bad_lines,
        seconds: 0.0,
        refused: false,
        ids_taken: conflicts,
    };
    if (!outcome.bad_lines.is_empty() && !options.skip_invalid)
        || (conflicts && options.on_conflict == ConflictPolicy::Fail)
    {
        outcome.refused = true;
        outcome.seconds = started.elapsed().as_secs_f64();
        return Ok(outcome);
    }

    // Write pass: the good lines again, a batch per round trip.
    let bad: std::collections::HashSet<usize> = outcome.bad_lines.iter().map(|(number, _)| *number).collect();
    let batch = options.batch.clamp(1, VALIDATE_CHUNK);
    let bar = progress(Some(total - bad.len() as u64), if options.dry_run { "checking" } else { "importing" });
    let mut records = Vec::with_capacity(batch);
    let mut lines_iter = lines.each()?;
    loop {
        let next = lines_iter.next().transpose()?;
        if let Some((number, line)) = &next
            && !bad.contains(number)
            && let Ok(record) = parse_line(line)
        {
            records.push(record);
        }
        if records.len() == batch || (next.is_none() && !records.is_empty()) {
            let count = records.len() as u64;
            let report =
                store.import_sessions(std::mem::take(&mut records), options.on_conflict, options.dry_run).await?;
            outcome.report.imported += report.imported;
            outcome.report.overwritten += report.overwritten;
            outcome.report.skipped += report.skipped;
            outcome.report.rejected.extend(report.rejected);
            bar.inc(count);
        }
        if next.is_none() {
            break;
        }
    }
    bar.finish_and_clear();
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
