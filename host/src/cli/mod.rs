//! The `sessions` command: parse, build a `SessionStore`, run one command,
//! print, exit with a code that says what happened. Each command (its flags
//! and what it does) is a file of `commands/`; this file only dispatches.

/// `println!` that ends the process quietly when stdout is a closed pipe
/// (`sessions export | head`) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same care.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(&format!($($arg)*)) };
}

mod commands;
mod duration;
mod exit_code;
mod fields;
mod global;
mod input;
mod output;
mod owner;
mod progress;

use std::process::ExitCode;

use agent_sessions_host::Error;
use clap::Parser;
use serde_json::json;

pub use commands::Command;
use commands::Context;
use exit_code::Exit;
use global::Cli;
use input::InputError;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A service logs what it does; a one-shot command only warnings.
    let (level, json_logs) = match &cli.command {
        Command::Serve(serve) => ("info", serve.logs_json()),
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
    let runtime = if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => return fail_line(&format!("cannot start the async runtime: {e}"), Exit::Failure),
    };
    let json = cli.json;
    let outcome = runtime.block_on(async move {
        let context = Context { store: global::build_store(&cli).await?, json, component: cli.component.clone() };
        cli.command.run(&context).await
    });
    match outcome {
        Ok(finding) => Exit::for_finding(finding).into(),
        Err(Failure::Input(InputError(message))) => {
            if json {
                output::print_json(&json!({ "error": { "kind": "invalid_input", "message": message } }));
            }
            fail_line(&message, Exit::Usage)
        }
        Err(Failure::Store(error)) => {
            if json {
                output::print_json(&output::error_json(&error));
            }
            fail_line(&error.to_string(), Exit::for_error(&error))
        }
    }
}

/// Why a command failed.
pub enum Failure {
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
