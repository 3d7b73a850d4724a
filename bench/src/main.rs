//! `make bench`: the component path, the same logic run natively, and
//! redis-benchmark, measured side by side in one run against a redis-server
//! this program starts. Prints a table and writes target/bench/results.json.

mod cluster;
mod fixtures;
#[path = "../../tests/src/redis_cluster.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_cluster;
#[path = "../../tests/src/redis_server.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_server;
mod report;
mod runner;
mod server;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use report::Report;

/// Benchmarks agent-sessions: component against native, with Redis' own
/// client as the floor.
#[derive(Debug, Parser)]
#[command(name = "sessions-bench")]
pub struct Options {
    /// About one minute instead of about ten (smaller sessions counts).
    #[arg(long, env = "BENCH_QUICK")]
    pub quick: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench/results.json")]
    pub output: PathBuf,
    /// The `sessions` binary whose start-up is measured.
    #[arg(long, default_value = "target/release/sessions")]
    pub cli: PathBuf,
}

/// Sizes of the run.
pub struct Scale {
    /// Operations per measurement at concurrency 1 and 32.
    pub ops_c1: usize,
    pub ops_c32: usize,
    /// Alternating chunks per operation and path.
    pub chunks: usize,
    /// Stored sessions for the list-scaling runs.
    pub list_sizes: Vec<usize>,
    /// Expired sessions for the cleanup run.
    pub cleanup_sessions: usize,
    /// Process starts for the CLI start-up comparison.
    pub cli_runs: usize,
    /// Operations per op in the cluster comparison, and sessions stored.
    pub cluster_ops: usize,
    pub cluster_sessions: usize,
}

impl Scale {
    fn new(quick: bool) -> Self {
        if quick {
            Scale {
                ops_c1: 1_000,
                ops_c32: 4_000,
                chunks: 2,
                list_sizes: vec![1_000, 10_000, 100_000],
                cleanup_sessions: 20_000,
                cli_runs: 10,
                cluster_ops: 4_000,
                cluster_sessions: 2_000,
            }
        } else {
            Scale {
                ops_c1: 15_000,
                ops_c32: 60_000,
                chunks: 6,
                list_sizes: vec![1_000, 100_000, 1_000_000],
                cleanup_sessions: 100_000,
                cli_runs: 40,
                cluster_ops: 20_000,
                cluster_sessions: 10_000,
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let scale = Scale::new(options.quick);
    let started = Instant::now();
    let server = server::Server::start()?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    eprintln!(
        "sessions-bench: redis-server on port {}, {cores} cores, {} scale",
        server.port,
        if options.quick { "quick" } else { "default" }
    );
    let mut report = Report::new(cores, options.quick);

    eprintln!("== floor: redis-benchmark");
    for concurrency in [1, 32] {
        let requests = if concurrency == 1 { scale.ops_c1 * 5 } else { scale.ops_c32 * 5 };
        report.runs.extend(server.redis_benchmark(concurrency, requests)?);
    }

    for concurrency in [1usize, 32] {
        let ops = if concurrency == 1 { scale.ops_c1 } else { scale.ops_c32 };
        eprintln!("== component and native paths, concurrency {concurrency}, {ops} operations each");
        server.flush()?;
        report.runs.extend(runner::run_both_paths(&server.url(), concurrency, ops, scale.chunks)?);
    }
    report.peak_rss_bytes = runner::peak_rss_bytes();
    report.evalsha_calls = server.evalsha_calls()?;

    eprintln!("== where a get's time goes");
    report.get_breakdown = fixtures::get_breakdown(&server, scale.ops_c1)?;

    eprintln!("== list scaling");
    report.list_scaling = fixtures::list_scaling(&server, &scale.list_sizes)?;

    eprintln!("== cleanup of {} expired sessions", scale.cleanup_sessions);
    report.cleanup = fixtures::cleanup(&server, scale.cleanup_sessions)?;

    eprintln!("== component overhead and CLI start-up");
    report.overhead = fixtures::overhead(&server, &options.cli, scale.cli_runs)?;
    report.overhead.peak_rss_bytes = report.peak_rss_bytes;

    eprintln!("== Redis Cluster (3 primaries, 3 replicas) against one Redis, concurrency 32");
    report.cluster = cluster::run(&server, scale.cluster_ops, scale.cluster_sessions)?;

    report.elapsed_s = started.elapsed().as_secs_f64();
    print!("{}", report.table());
    if let Some(parent) = options.output.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(&options.output, serde_json::to_string_pretty(&report.json())?)
        .with_context(|| format!("write {}", options.output.display()))?;
    eprintln!("results written to {} ({:.0} s)", options.output.display(), started.elapsed().as_secs_f64());
    Ok(())
}
