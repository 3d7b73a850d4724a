//! `sessions export`, `import` and `migrate`: moving sessions in and out.
//!
//! Export writes one JSON object per line: `{"id", "data", "meta",
//! "ttl_ms"}` with both hashes as stored. Import reads those lines, or lines
//! in the typed form `sessions get --json` prints (how sessions from another
//! store come in), validates every line first through the component, and
//! writes in batches. Progress goes to stderr when it is a terminal.

use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

use agent_sessions_host::{ConflictPolicy, ImportRecord, ImportReport, RejectReason, SessionStore};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::input::InputError;

/// Records per validation call (the component takes at most 1000).
const VALIDATE_CHUNK: usize = 1000;

fn progress(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    // indicatif draws only when stderr is a terminal.
    bar.with_message(what.to_owned())
}

/// Streams every live session to `output` (stdout when `None`); returns
/// how many were written.
pub async fn export(store: &SessionStore, output: Option<&str>) -> Result<(u64, f64), super::Failure> {
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
            let line = super::output::document(&session);
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

/// One line of an import file as a record, or why it is not one. The
/// record's rules (stored or typed form, defaults, unknown fields) are the
/// shared schema's, in `ImportRecord`'s JSON form.
pub fn parse_line(line: &str) -> Result<ImportRecord, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    match ImportRecord::from_json(value) {
        ImportRecord::Unreadable(message) => Err(message),
        record => Ok(record),
    }
}

pub struct ImportOptions {
    pub on_conflict: ConflictPolicy,
    pub skip_invalid: bool,
    pub batch: usize,
    pub dry_run: bool,
}

/// What an import did, for the summary.
pub struct ImportOutcome {
    pub lines: u64,
    pub report: ImportReport,
    /// `(line number, why)` of every bad line.
    pub bad_lines: Vec<(usize, String)>,
    pub seconds: f64,
    /// Lines were bad and nothing was written.
    pub refused: bool,
    /// Some of the refusals were ids already stored (conflict policy fail).
    pub ids_taken: bool,
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
pub async fn import(
    store: &SessionStore,
    source: &str,
    options: ImportOptions,
) -> Result<ImportOutcome, super::Failure> {
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

/// Totals of a migrate run.
#[derive(Default)]
pub struct MigrateTotals {
    pub examined: u64,
    pub indexed: u64,
    pub hash_ttls_set: u64,
    pub schema_versions_set: u64,
    pub cursor: String,
}

pub async fn migrate(store: &SessionStore, from: &str, dry_run: bool) -> Result<MigrateTotals, super::Failure> {
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
