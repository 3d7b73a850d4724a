//! The `sessions` command: parse, build a [`SessionStore`], run one command,
//! print, exit with a code that says what happened.

/// `println!` that ends the process quietly when stdout is a closed pipe
/// (`sessions export | head`) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same care.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!($($arg)*)) };
}

mod args;
mod demo;
mod exit_code;
mod input;
mod items;
mod output;
mod serve;
mod transfer;

use std::process::ExitCode;
use std::time::Duration;

use agent_sessions_host::conversation::ItemOptions;
use agent_sessions_host::{Error, GuestLimits, RedisOptions, SessionStore, Settings, WaitReplicas};
use clap::Parser;
use serde_json::{Value, json};

use args::{Cli, Command, LayoutChoice, LogFormat, OnConflict};
use exit_code::{Exit, Finding};
use input::InputError;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A service logs what it does; a one-shot command only warnings.
    let (level, json_logs) = match &cli.command {
        Command::Serve { log_format, .. } => ("info", *log_format == LogFormat::Json),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SESSIONS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    if json_logs {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
    // The service answers HTTP while it sweeps: give it both cores.
    let runtime = if matches!(cli.command, Command::Serve { .. }) {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => return fail_line(&format!("cannot start the async runtime: {e}"), Exit::Failure),
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(finding) => Exit::for_finding(finding).into(),
        Err(Failure::Input(InputError(message))) => {
            if json {
                print_json(&json!({ "error": { "kind": "invalid_input", "message": message } }));
            }
            fail_line(&message, Exit::Usage)
        }
        Err(Failure::Store(error)) => {
            if json {
                print_json(&output::error_json(&error));
            }
            fail_line(&error.to_string(), Exit::for_error(&error))
        }
    }
}

/// Why a command failed.
enum Failure {
    Input(InputError),
    Store(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Store(error)
    }
}

impl From<InputError> for Failure {
    fn from(error: InputError) -> Self {
        Failure::Input(error)
    }
}

fn fail_line(message: &str, exit: Exit) -> ExitCode {
    // One line, no backtrace; messages never hold a Redis password (the
    // host redacts URLs).
    eprintln!("sessions: {}", message.replace('\n', " "));
    exit.into()
}

fn print_json(value: &Value) {
    outln!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// Writes to stdout; a reader that went away ends the process (exit 0, as
/// Unix tools do on a closed pipe), any other failure exits 1 with a line.
pub(crate) fn write_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("sessions: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

async fn build_store(cli: &Cli) -> Result<SessionStore, Failure> {
    let mut builder = SessionStore::builder()
        .prefix(cli.prefix.clone())
        .session_ttl(Duration::from_secs(cli.ttl))
        .grace_period(Duration::from_secs(cli.grace))
        .limits(GuestLimits { timeout: cli.timeout, ..GuestLimits::default() });
    builder = if cli.memory {
        builder.memory()
    } else {
        let options = RedisOptions {
            tls_ca_file: cli.tls_ca.clone(),
            cluster: cli.cluster,
            wait_replicas: cli.wait_replicas.map(|replicas| WaitReplicas { replicas, timeout: cli.wait_timeout }),
            ..RedisOptions::default()
        };
        builder.redis_with_options(cli.redis.clone(), options)
    };
    builder = match (cli.layout, cli.shards) {
        (Some(LayoutChoice::Document), Some(_)) => {
            return Err(InputError("--shards belongs to --layout sharded, not --layout document".into()).into());
        }
        (Some(LayoutChoice::Document), None) => builder.shards(0),
        (_, Some(shards)) => builder.shards(shards),
        (Some(LayoutChoice::Sharded), None) => builder.shards(agent_sessions_host::DEFAULT_SHARDS),
        (None, None) => builder,
    };
    if let Some(path) = &cli.component {
        builder = builder.component_file(path);
    }
    Ok(builder.build().await?)
}

async fn run(cli: Cli) -> Result<Finding, Failure> {
    let store = build_store(&cli).await?;
    let json = cli.json;
    let show = |value: Value, text: String| {
        if json {
            print_json(&value);
        } else {
            out!("{text}");
        }
    };
    match &cli.command {
        Command::Create { id, fields, app_name, user_id, state_json, from_json } => {
            let mut input = input::create_input(id.clone(), fields.clone(), from_json.as_deref())?;
            input::apply_owner_and_state(&mut input, app_name.clone(), user_id.clone(), state_json.as_deref())?;
            let session = store.create(input).await?;
            show(output::document(&session), output::session_text(&session));
        }
        Command::Get { id } => {
            let session = store.get(id).await?;
            show(output::document(&session), output::session_text(&session));
        }
        Command::Update { id, fields, clear, expect_version, from_json } => {
            let changes = input::update_input(fields.clone(), clear.clone(), *expect_version, from_json.as_deref())?;
            let session = store.update(id, changes).await?;
            show(output::document(&session), output::session_text(&session));
        }
        Command::Delete { id } => {
            let deleted = store.delete(id).await?;
            show(
                json!({ "id": id, "deleted": deleted }),
                if deleted { format!("deleted session {id}\n") } else { String::new() },
            );
            if !deleted {
                eprintln!("sessions: session {id} not found (nothing live to delete)");
                return Ok(Finding::SessionGone);
            }
        }
        Command::List { limit, page_token, app_name: Some(app_name), user_id, .. } => {
            return items::list_by_owner(&store, app_name, user_id.as_deref(), *limit, page_token.as_deref(), json)
                .await;
        }
        Command::List { limit, offset, page_token, app_name: None, .. } => {
            let page = match page_token {
                Some(token) => store.list_after(*limit, token).await?,
                None => store.list(*limit, *offset).await?,
            };
            show(output::document(&page), output::page_text(&page, page_token.is_some()));
            if !page.corrupt.is_empty() {
                return Ok(Finding::UnreadableEntries);
            }
        }
        Command::Extend { id } => {
            let extended = store.extend_ttl(id).await?;
            let ttl = store.settings().session_ttl_seconds;
            show(
                json!({ "id": id, "extended": extended, "ttl_seconds": ttl }),
                if extended { format!("session {id} now expires in {ttl} s\n") } else { String::new() },
            );
            if !extended {
                eprintln!("sessions: session {id} not found (expired or deleted)");
                return Ok(Finding::SessionGone);
            }
        }
        Command::Items { id, limit, range, owner } => {
            return items::items(&store, id, *limit, *range, items::owner(owner), json).await;
        }
        Command::AddItems { id, from_json, keep_last, expect_version, create_if_missing, owner } => {
            let add = items::AddItems {
                id,
                source: from_json,
                keep_last: *keep_last,
                expect_version: *expect_version,
                create_if_missing: create_if_missing.clone(),
                owner: items::owner(owner),
            };
            return items::add_items(&store, add, json).await;
        }
        Command::PopItem { id, expect_version, owner } => {
            let options = ItemOptions { expected_version: *expect_version, owner: items::owner(owner) };
            return items::pop_item(&store, id, options, json).await;
        }
        Command::ClearItems { id, expect_version, owner } => {
            let options = ItemOptions { expected_version: *expect_version, owner: items::owner(owner) };
            return items::clear_items(&store, id, options, json).await;
        }
        Command::CountItems { id, owner } => return items::count_items(&store, id, items::owner(owner), json).await,
        Command::Cleanup => {
            let report = store.cleanup_expired().await?;
            show(output::document(&report), output::cleanup_text(&report));
            if report.skipped > 0 {
                return Ok(Finding::UnreadableEntries);
            }
        }
        Command::Reindex => {
            let indexed = store.reindex().await?;
            show(json!({ "indexed": indexed }), format!("added {indexed} session(s) to the list index\n"));
        }
        Command::Stats { batch_size } => {
            let store = store.with_settings(Settings { batch_size: *batch_size, ..store.settings() })?;
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
            show(output::document(&stats), output::stats_text(&stats));
        }
        Command::Export { output } => {
            let (written, seconds) = transfer::export(&store, output.as_deref()).await?;
            let rate = written as f64 / seconds.max(1e-9);
            let summary = json!({ "exported": written, "seconds": seconds, "sessions_per_second": rate });
            match output {
                // The sessions went to a file: the summary can use stdout.
                Some(path) => show(summary, format!("exported {written} session(s) to {path} ({rate:.0}/s)\n")),
                None if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                    eprintln!("exported {written} session(s) ({rate:.0}/s)")
                }
                None => {}
            }
        }
        Command::Import { source, on_conflict, skip_invalid, batch, dry_run } => {
            let options = transfer::ImportOptions {
                on_conflict: match on_conflict {
                    OnConflict::Skip => agent_sessions_host::ConflictPolicy::Skip,
                    OnConflict::Overwrite => agent_sessions_host::ConflictPolicy::Overwrite,
                    OnConflict::Fail => agent_sessions_host::ConflictPolicy::Fail,
                },
                skip_invalid: *skip_invalid,
                batch: *batch,
                dry_run: *dry_run,
            };
            let outcome = transfer::import(&store, source, options).await?;
            for (number, message) in &outcome.bad_lines {
                eprintln!("sessions: {source}:{number}: {message}");
            }
            let r = &outcome.report;
            let rate = (r.imported + r.overwritten + r.skipped) as f64 / outcome.seconds.max(1e-9);
            show(
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
                        if *dry_run { "dry run: would have " } else { "" },
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
        }
        Command::Migrate { dry_run, from } => {
            let totals = transfer::migrate(&store, from, *dry_run).await?;
            show(
                json!({
                    "dry_run": dry_run,
                    "examined": totals.examined,
                    "indexed": totals.indexed,
                    "hash_ttls_set": totals.hash_ttls_set,
                    "schema_versions_set": totals.schema_versions_set,
                }),
                format!(
                    "{}examined {} session(s): {} added to the list index, {} hash TTL(s) set, {} schema_version(s) set\n",
                    if *dry_run { "dry run: " } else { "" },
                    totals.examined,
                    totals.indexed,
                    totals.hash_ttls_set,
                    totals.schema_versions_set
                ),
            );
        }
        Command::Health => {
            let component = match &cli.component {
                Some(path) => path.display().to_string(),
                None => format!("embedded ({} bytes)", agent_sessions_host::EMBEDDED_COMPONENT.len()),
            };
            let health = store.health().await?;
            show(
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
        }
        Command::Demo => demo::run(&store).await?,
        Command::Serve { listen, cleanup_interval, stats_interval, .. } => {
            let options = serve::ServeOptions {
                listen: *listen,
                cleanup_interval: *cleanup_interval,
                stats_interval: *stats_interval,
            };
            if let Err(message) = serve::run(store, options).await {
                eprintln!("sessions: {message}");
                return Ok(Finding::ServiceFailed);
            }
        }
    }
    Ok(Finding::Done)
}
