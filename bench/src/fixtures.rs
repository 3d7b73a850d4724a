//! The runs that need many stored sessions (list scaling, cleanup) and the
//! overhead measurements. Sessions are bulk-loaded with pipelines in exactly
//! the layout the component writes (the guest crate's own encoders and key
//! names), as a migration or another service would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_sessions_guest::encoding::{encode_data, encode_meta};
use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::{self, SessionKeys};
use agent_sessions_guest::model::{SessionData, SessionMeta};
use agent_sessions_guest::timestamp::Timestamp;
use agent_sessions_host::SessionStore;
use anyhow::Context;

use crate::report::{Cleanup, GetBreakdown, ListPoint, ListScaling, Overhead};
use crate::server::Server;
use agent_sessions_bench::percentile_us;

const TTL_MS: u64 = 3_600_000;
const HASH_TTL_MS: u64 = 3_900_000;
const LOAD_CHUNK: usize = 2_000;

/// Writes sessions `first..first + count`; `live` ones get an expiry key.
fn bulk_load(server: &Server, first: usize, count: usize, live: bool) -> anyhow::Result<()> {
    let mut connection = server.connection();
    let base_ms = 1_750_000_000_000i64;
    let data =
        encode_data(&SessionData { model_id: "gpt-4".into(), tools: vec!["search".into()], ..Default::default() });
    for chunk_start in (first..first + count).step_by(LOAD_CHUNK) {
        let mut pipe = redis::pipe();
        for n in chunk_start..(chunk_start + LOAD_CHUNK).min(first + count) {
            let id = SessionId::from_random_bytes((n as u128 + 0x5eed_0000_0000).to_le_bytes());
            let keys = SessionKeys::new(&id);
            let created = Timestamp::from_unix_millis(base_ms + n as i64);
            let meta = encode_meta(&SessionMeta {
                created_at: created,
                updated_at: created,
                last_activity: created,
                is_active: true,
                status: "running".into(),
                version: 1,
                app_name: None,
                user_id: None,
            });
            pipe.hset_multiple(&keys.data, &data).ignore();
            pipe.pexpire(&keys.data, HASH_TTL_MS as i64).ignore();
            pipe.hset_multiple(&keys.meta, &meta).ignore();
            pipe.pexpire(&keys.meta, HASH_TTL_MS as i64).ignore();
            if live {
                pipe.cmd("SET").arg(&keys.expiry).arg("").arg("PX").arg(TTL_MS).ignore();
            }
            pipe.sadd(keys::ACTIVE_SESSIONS, id.to_string()).ignore();
            pipe.zadd(keys::SESSION_INDEX, id.to_string(), created.unix_millis()).ignore();
        }
        let _: () = pipe.query(&mut connection).context("bulk load")?;
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// List page latency (component path, concurrency 1) as the store grows.
pub fn list_scaling(server: &Server, sizes: &[usize]) -> anyhow::Result<ListScaling> {
    server.flush()?;
    let rt = runtime();
    let store = rt.block_on(SessionStore::connect(&server.url()))?;
    let mut points = Vec::new();
    let mut loaded = 0;
    for &size in sizes {
        let started = Instant::now();
        bulk_load(server, loaded, size - loaded, true)?;
        eprintln!("   loaded {size} sessions in {:.1} s", started.elapsed().as_secs_f64());
        loaded = size;
        for offset in [0u64, 990, (size / 2) as u64] {
            let mut latencies = Vec::with_capacity(300);
            for _ in 0..300 {
                let started = Instant::now();
                let page = rt.block_on(store.list(10, offset))?;
                latencies.push(started.elapsed());
                anyhow::ensure!(page.sessions.len() == 10, "a page of {} at offset {offset}", page.sessions.len());
            }
            latencies.sort();
            points.push(ListPoint {
                sessions: size,
                offset,
                p50_us: percentile_us(&latencies, 0.5),
                p99_us: percentile_us(&latencies, 0.99),
            });
        }
    }
    Ok(ListScaling { points })
}

/// Time to remove `count` expired sessions in one cleanup, and the slowest
/// single Redis command meanwhile.
pub fn cleanup(server: &Server, count: usize) -> anyhow::Result<Cleanup> {
    server.flush()?;
    bulk_load(server, 0, count, false)?;
    let live = count / 10;
    bulk_load(server, count, live, true)?;
    let mut connection = server.connection();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(100).query(&mut connection)?;
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-max-len").arg(100_000).query(&mut connection)?;
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut connection)?;
    let rt = runtime();
    let store = rt.block_on(SessionStore::connect(&server.url()))?;
    let round_trips = store.round_trips();
    let started = Instant::now();
    let report = rt.block_on(store.cleanup_expired())?;
    let seconds = started.elapsed().as_secs_f64();
    let round_trips = store.round_trips() - round_trips;
    anyhow::ensure!(report.removed == count as u64, "cleanup removed {} of {count}", report.removed);
    let remaining = rt.block_on(store.list(0, 0))?.total;
    anyhow::ensure!(remaining == live as u64, "{remaining} sessions left, {live} expected");

    // SLOWLOG entries: [id, timestamp, duration µs, [command, args...], ...]
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG").arg("GET").arg(100_000).query(&mut connection)?;
    let mut slowest = (0i64, String::new());
    let mut over_5ms = 0;
    for entry in entries {
        if let redis::Value::Array(fields) = entry {
            let duration = match fields.get(2) {
                Some(redis::Value::Int(us)) => *us,
                _ => continue,
            };
            let command = match fields.get(3) {
                Some(redis::Value::Array(args)) => match args.first() {
                    Some(redis::Value::BulkString(name)) => String::from_utf8_lossy(name).into_owned(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            if duration > 5_000 {
                over_5ms += 1;
            }
            if duration > slowest.0 {
                slowest = (duration, command);
            }
        }
    }
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slowlog-log-slower-than").arg(10_000).query(&mut connection)?;
    Ok(Cleanup {
        sessions: count,
        live_sessions_kept: live,
        seconds,
        sessions_per_s: count as f64 / seconds,
        round_trips,
        slowest_command_us: slowest.0 as f64,
        slowest_command: slowest.1,
        commands_over_5ms: over_5ms,
    })
}

/// Instance preparation, and the CLI's start-up against redis-cli's.
pub fn overhead(server: &Server, cli: &std::path::Path, runs: usize) -> anyhow::Result<Overhead> {
    server.flush()?;
    let rt = runtime();
    let store = rt.block_on(SessionStore::connect(&server.url()))?;
    rt.block_on(store.instance_preparation_time(100))?;
    let instance_preparation = rt.block_on(store.instance_preparation_time(2000))?;
    let id = rt.block_on(store.create(agent_sessions_bench::paths::example()))?.id;

    anyhow::ensure!(
        cli.exists(),
        "{} not found: build it with `cargo build --release -p agent-sessions-host`",
        cli.display()
    );
    let url = server.url();
    let cli_args = ["--redis", url.as_str(), "get", id.as_str()];
    let data_key = format!("session:{id}:data");
    let port = server.port.to_string();
    let redis_cli_args = ["-p", port.as_str(), "HGETALL", data_key.as_str()];
    let time_process = |program: &std::path::Path, args: &[&str]| -> anyhow::Result<Duration> {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let status = Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
            samples.push(started.elapsed());
            anyhow::ensure!(status.success(), "{} {args:?} failed", program.display());
        }
        samples.sort();
        Ok(samples[samples.len() / 2])
    };
    // One warm-up each, so neither pays for a cold page cache.
    time_process(cli, &cli_args)?;
    let sessions_get = time_process(cli, &cli_args)?;
    time_process(std::path::Path::new("redis-cli"), &redis_cli_args)?;
    let redis_cli = time_process(std::path::Path::new("redis-cli"), &redis_cli_args)?;
    Ok(Overhead {
        instance_preparation_us: instance_preparation.as_secs_f64() * 1e6,
        cli_get_ms: sessions_get.as_secs_f64() * 1e3,
        redis_cli_hgetall_ms: redis_cli.as_secs_f64() * 1e3,
        peak_rss_bytes: 0,
    })
}

/// Where a `get` spends its time at concurrency 1, outside the component:
/// a PING over the same client (redis-rs connection manager), the get's kv
/// batch sent directly (packing, EVALSHA, the script, reading the reply),
/// and Redis' own time per EVALSHA of that batch (`INFO commandstats`).
pub fn get_breakdown(server: &Server, samples: usize) -> anyhow::Result<GetBreakdown> {
    use agent_sessions_guest::encoding::{DATA_FIELDS, META_FIELDS};
    use agent_sessions_guest::kv::{Batch, Op};
    server.flush()?;
    let rt = runtime();
    let store = rt.block_on(SessionStore::connect(&server.url()))?;
    let id = rt.block_on(store.create(agent_sessions_bench::paths::example()))?.id;
    let keys = SessionKeys::new(&SessionId::parse(&id).map_err(anyhow::Error::msg)?);
    let named = |fields: &[&str]| fields.iter().map(|f| (*f).to_owned()).collect();
    let batch = Batch::new()
        .op(Op::TtlMs(keys.expiry.clone()))
        .op(Op::HashGetFields { key: keys.data.clone(), fields: named(&DATA_FIELDS) })
        .op(Op::HashGetFields { key: keys.meta.clone(), fields: named(&META_FIELDS) });
    let kv = store.kv().clone();
    let time = |run: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        for _ in 0..samples / 10 {
            run()?;
        }
        let mut timings = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            run()?;
            timings.push(started.elapsed());
        }
        timings.sort();
        Ok(percentile_us(&timings, 0.5))
    };
    let client_ping_us =
        time(&|| rt.block_on(kv.backend().ping()).map(|_| ()).map_err(|e| anyhow::anyhow!(e.message)))?;
    let mut connection = server.connection();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut connection)?;
    let kv_batch_us = time(&|| rt.block_on(kv.execute(&batch)).map(|_| ()).map_err(|e| anyhow::anyhow!(e.message)))?;
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut connection)?;
    let redis_evalsha_us = info
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:"))
        .and_then(|rest| rest.split(',').find_map(|part| part.strip_prefix("usec_per_call=")))
        .and_then(|us| us.parse().ok())
        .unwrap_or(0.0);
    Ok(GetBreakdown { client_ping_us, kv_batch_us, redis_evalsha_us })
}
