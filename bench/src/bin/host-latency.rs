//! `host-latency`: per-operation latency of the Rust host (`SessionStore`,
//! the component over Redis) at concurrency 1, against a Redis the caller
//! runs. `python/bench/compare_hosts.py` runs it in rounds alternating with
//! the Python host, against one redis-server, and prints both side by side.
//!
//! One round: create N sessions; get, update and extend_ttl them in turn;
//! delete them; then list pages of 10 over 100 sessions created for it (and
//! deleted after). `ping` is the host's own Redis connection answering a
//! PING: the floor under every operation. A warm-up round runs first.
//! `--items` adds appending one conversation item and reading the last 20.
//! Only sessions this program creates are touched, and all are deleted.

use std::future::Future;
use std::time::{Duration, Instant};

use agent_sessions_bench::paths::{Op, example};
use agent_sessions_bench::percentile_us;
use agent_sessions_host::conversation::{ItemsAppend, ItemsQuery};
use agent_sessions_host::{SessionStore, SessionUpdate};
use anyhow::{Context, ensure};
use clap::Parser;
use serde::Serialize;
use serde_json::value::RawValue;

/// Sessions the list operation pages through, 10 at a time.
const LIST_SESSIONS: usize = 100;
const PAGE: u32 = 10;

/// Latency of each operation of the Rust host at concurrency 1.
#[derive(Debug, Parser)]
#[command(name = "host-latency")]
struct Options {
    /// Redis to run against: `redis://host:port[/db]`.
    #[arg(long)]
    redis_url: String,
    /// Measured calls per operation.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,
    /// Unmeasured calls per operation first.
    #[arg(long, default_value_t = 100)]
    warmup: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// With --json, also every latency in nanoseconds (to pool rounds).
    #[arg(long)]
    samples: bool,
    /// Also time conversation items (issue 16's target): appending one
    /// item and reading the last 20, next to `get`, with their ratios.
    #[arg(long)]
    items: bool,
    /// Instead of latencies: create then get throughput with this many
    /// concurrent tasks on the one thread (as a Node event loop runs), each
    /// making `--iterations` calls per operation.
    #[arg(long)]
    concurrency: Option<usize>,
}

/// Creates, then gets, from `tasks` concurrent tasks, `calls` each;
/// operations per second of each, and every session deleted after.
async fn throughput(store: &SessionStore, tasks: usize, calls: usize) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let created = futures_util::future::try_join_all((0..tasks).map(|_| async move {
        let mut ids = Vec::with_capacity(calls);
        for _ in 0..calls {
            ids.push(store.create(example()).await?.id);
        }
        anyhow::Ok(ids)
    }))
    .await?;
    let create_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    futures_util::future::try_join_all(created.iter().map(|ids| async move {
        for id in ids {
            store.get(id).await?;
        }
        anyhow::Ok(())
    }))
    .await?;
    let get_s = started.elapsed().as_secs_f64();
    for id in created.iter().flatten() {
        store.delete(id).await?;
    }
    let total = (tasks * calls) as f64;
    Ok(serde_json::json!({
        "host": "rust",
        "concurrency": tasks,
        "calls_per_op": tasks * calls,
        "create_ops_per_s": total / create_s,
        "get_ops_per_s": total / get_s,
    }))
}

/// One operation's measurement.
#[derive(Debug, Serialize)]
struct Measurement {
    op: &'static str,
    ops: usize,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    ops_per_s: f64,
    /// Time of the whole measured loop.
    elapsed_s: f64,
    /// Redis round trips per call: kv batches (one PING for `ping`).
    round_trips: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    samples_ns: Option<Vec<u64>>,
}

struct Timed<T> {
    latencies: Vec<Duration>,
    elapsed: Duration,
    round_trips: u64,
    values: Vec<T>,
}

impl<T> Timed<T> {
    fn measurement(&self, op: &'static str, samples: bool) -> Measurement {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let ops = sorted.len();
        let total: Duration = sorted.iter().sum();
        Measurement {
            op,
            ops,
            p50_us: percentile_us(&sorted, 0.50),
            p99_us: percentile_us(&sorted, 0.99),
            mean_us: total.as_secs_f64() * 1e6 / ops.max(1) as f64,
            ops_per_s: ops as f64 / self.elapsed.as_secs_f64(),
            elapsed_s: self.elapsed.as_secs_f64(),
            round_trips: self.round_trips as f64 / ops.max(1) as f64,
            samples_ns: samples.then(|| self.latencies.iter().map(|d| d.as_nanos() as u64).collect()),
        }
    }
}

/// Calls `call(0..iterations)` one at a time, timing each call.
async fn timed<T, F, Fut>(store: &SessionStore, iterations: usize, mut call: F) -> anyhow::Result<Timed<T>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut latencies = Vec::with_capacity(iterations);
    let mut values = Vec::with_capacity(iterations);
    let round_trips = store.round_trips();
    let loop_started = Instant::now();
    for n in 0..iterations {
        let started = Instant::now();
        let value = call(n).await?;
        latencies.push(started.elapsed());
        values.push(value);
    }
    let elapsed = loop_started.elapsed();
    Ok(Timed { latencies, elapsed, round_trips: store.round_trips() - round_trips, values })
}

/// An assistant message as the OpenAI Agents SDK stores it (~190 bytes).
const ITEM: &str = r#"{"id":"msg_0123456789abcdef","content":[{"annotations":[],"text":"The Eiffel Tower is in Paris, France.","type":"output_text"}],"role":"assistant","status":"completed","type":"message"}"#;

/// `get`, appending one item and reading the last 20 items of a 40-item
/// session, interleaved call by call (so that a shared machine's drift
/// falls on all three alike): one measurement each, `get` as `items_get`.
async fn item_round(
    store: &SessionStore,
    ids: &[String],
    iterations: usize,
    samples: bool,
) -> anyhow::Result<Vec<Measurement>> {
    let one = || ItemsAppend {
        items: vec![RawValue::from_string(ITEM.to_owned()).expect("the item is JSON")],
        expected_version: None,
        keep_last: None,
        owner: None,
        state_delta: None,
        create_if_missing: None,
    };
    let history = store.create(example()).await?.id;
    for _ in 0..40 {
        store.append_items(&history, &one()).await?;
    }
    let query = ItemsQuery { last: Some(20), ..ItemsQuery::default() };
    let mut timed_ops: [Timed<()>; 3] = std::array::from_fn(|_| Timed {
        latencies: Vec::with_capacity(iterations),
        elapsed: Duration::ZERO,
        round_trips: 0,
        values: Vec::new(),
    });
    for n in 0..iterations {
        let id = &ids[n % ids.len()];
        for (at, timed) in timed_ops.iter_mut().enumerate() {
            let round_trips = store.round_trips();
            let started = Instant::now();
            match at {
                0 => ensure!(&store.get(id).await?.id == id, "get returned another session"),
                1 => {
                    store.append_items(id, &one()).await?;
                }
                _ => {
                    let page = store.get_items(&history, &query).await?;
                    ensure!(page.items.len() == 20, "read {} items", page.items.len());
                }
            }
            let took = started.elapsed();
            timed.latencies.push(took);
            timed.elapsed += took;
            timed.round_trips += store.round_trips() - round_trips;
        }
    }
    store.delete(&history).await?;
    let [get, append, read] = timed_ops;
    Ok(vec![
        get.measurement("items_get", samples),
        append.measurement("append_item", samples),
        read.measurement("items_last_20", samples),
    ])
}

/// One round of every operation, `iterations` calls each.
async fn round(
    store: &SessionStore,
    iterations: usize,
    samples: bool,
    items: bool,
) -> anyhow::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    let create = timed(store, iterations, |_| async move { Ok(store.create(example()).await?.id) }).await?;
    out.push(create.measurement(Op::Create.name(), samples));
    let ids = &create.values;
    let id = |n: usize| ids[n % ids.len()].as_str();

    let get = timed(store, iterations, |n| async move {
        let session = store.get(id(n)).await?;
        ensure!(session.id == id(n), "get returned another session");
        Ok(())
    })
    .await?;
    out.push(get.measurement(Op::Get.name(), samples));
    if items {
        out.extend(item_round(store, ids, iterations, samples).await?);
    }

    let update = timed(store, iterations, |n| async move {
        store.update(id(n), SessionUpdate { name: Some(format!("renamed {n}")), ..Default::default() }).await?;
        Ok(())
    })
    .await?;
    out.push(update.measurement(Op::Update.name(), samples));

    let extend = timed(store, iterations, |n| async move {
        ensure!(store.extend_ttl(id(n)).await?, "extend_ttl found no session");
        Ok(())
    })
    .await?;
    out.push(extend.measurement(Op::Extend.name(), samples));

    let delete = timed(store, iterations, |n| async move {
        ensure!(store.delete(id(n)).await?, "delete found no session");
        Ok(())
    })
    .await?;
    out.push(delete.measurement(Op::Delete.name(), samples));

    let mut fixture = Vec::with_capacity(LIST_SESSIONS);
    for _ in 0..LIST_SESSIONS {
        fixture.push(store.create(example()).await?.id);
    }
    let list = timed(store, iterations, |n| async move {
        let offset = (n % (LIST_SESSIONS / PAGE as usize)) as u64 * u64::from(PAGE);
        let page = store.list(PAGE, offset).await?;
        ensure!(page.sessions.len() == PAGE as usize, "a page of {} at offset {offset}", page.sessions.len());
        Ok(())
    })
    .await?;
    out.push(list.measurement(Op::List.name(), samples));
    for id in &fixture {
        store.delete(id).await?;
    }

    let backend = store.kv().backend();
    let mut ping = timed(store, iterations, |_| async move {
        backend.ping().await.map_err(|e| anyhow::anyhow!("PING: {}", e.message))?;
        Ok(())
    })
    .await?;
    // One round trip each, though not a kv batch.
    ping.round_trips = iterations as u64;
    out.push(ping.measurement("ping", samples));
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Some(tasks) = options.concurrency {
        let report = runtime.block_on(async {
            let store = SessionStore::connect(&options.redis_url)
                .await
                .with_context(|| format!("connect to {}", options.redis_url))?;
            throughput(&store, tasks, options.warmup as usize).await.context("warm-up")?;
            throughput(&store, tasks, options.iterations as usize).await
        })?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let started = Instant::now();
    let measurements = runtime.block_on(async {
        let store = SessionStore::connect(&options.redis_url)
            .await
            .with_context(|| format!("connect to {}", options.redis_url))?;
        if options.warmup > 0 {
            round(&store, options.warmup as usize, false, options.items).await.context("warm-up")?;
        }
        round(&store, options.iterations as usize, options.samples, options.items).await
    })?;
    if options.json {
        let report = serde_json::json!({
            "host": "rust",
            "iterations": options.iterations,
            "warmup": options.warmup,
            "elapsed_s": started.elapsed().as_secs_f64(),
            "ops": measurements,
        });
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{:<14} {:>8} {:>10} {:>10} {:>10} {:>10} {:>4}",
            "op", "ops", "p50 us", "p99 us", "mean us", "op/s", "rt"
        );
        for m in &measurements {
            println!(
                "{:<14} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.0} {:>4.2}",
                m.op, m.ops, m.p50_us, m.p99_us, m.mean_us, m.ops_per_s, m.round_trips
            );
        }
        let p50 = |op: &str| measurements.iter().find(|m| m.op == op).map(|m| m.p50_us);
        // Against the get measured in the same loop (see item_round).
        if let Some(get) = p50("items_get") {
            for op in ["append_item", "items_last_20"] {
                if let Some(p50) = p50(op) {
                    println!("{op} p50 / get p50: {:.2} (target: at most 1.5)", p50 / get);
                }
            }
        }
    }
    Ok(())
}
