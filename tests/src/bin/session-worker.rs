//! A second OS process for the concurrency tests: it opens its own
//! `SessionStore` (own component instance, own Redis connection) and races
//! the test process. Prints one JSON line with what it did.
//!
//! ```text
//! session-worker increment URL ID TASKS UPDATES   compare-and-set +1 on max_tokens
//! session-worker cleanup URL PREFIX ROUNDS        cleanup_expired, ROUNDS times
//! ```

use std::process::ExitCode;

use agent_sessions_host::{Error, SessionStore};
use agent_sessions_tests::cas_increments;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["increment", url, id, tasks, updates] => {
            increment(url, id, tasks.parse().expect("TASKS"), updates.parse().expect("UPDATES")).await
        }
        ["cleanup", url, prefix, rounds] => cleanup(url, prefix, rounds.parse().expect("ROUNDS")).await,
        _ => {
            eprintln!("usage: session-worker increment URL ID TASKS UPDATES | cleanup URL PREFIX ROUNDS");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("session-worker: {error}");
            ExitCode::FAILURE
        }
    }
}

/// TASKS tasks each apply UPDATES read-modify-write increments of
/// `max_tokens`, retrying on conflict.
async fn increment(url: &str, id: &str, tasks: u64, updates: u64) -> Result<String, Error> {
    let store = SessionStore::connect(url).await?;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (store, id) = (store.clone(), id.to_owned());
        handles.push(tokio::spawn(async move { cas_increments(&store, &id, updates).await }));
    }
    let (mut applied, mut conflicts) = (0, 0);
    for handle in handles {
        let (a, c) = handle.await.expect("task")?;
        applied += a;
        conflicts += c;
    }
    Ok(format!(r#"{{"applied": {applied}, "conflicts": {conflicts}}}"#))
}

async fn cleanup(url: &str, prefix: &str, rounds: u64) -> Result<String, Error> {
    let store = SessionStore::builder().redis(url).prefix(prefix).batch_size(50).build().await?;
    let mut removed = 0;
    for _ in 0..rounds {
        removed += store.cleanup_expired().await?.removed;
    }
    Ok(format!(r#"{{"removed": {removed}}}"#))
}
