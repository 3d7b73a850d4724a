//! The Redis Cluster rows: throughput at concurrency 32 for create, get
//! and update, and list-page latency over 64 shards, against the same on
//! one Redis (the document's layout), in alternating rounds of one run. On
//! a 2-core machine the three primaries share the cores with the client, so
//! the figures show the sharded layout's and the cluster client's overhead,
//! not scaling.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_sessions_bench::percentile_us;
use agent_sessions_host::{SessionCreate, SessionStore, SessionUpdate};
use serde::Serialize;

use crate::redis_cluster::RedisCluster;
use crate::server::Server;

const CONCURRENCY: usize = 32;
const ROUNDS: usize = 4;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterThroughput {
    pub op: String,
    pub one_redis_ops_per_s: f64,
    pub cluster_ops_per_s: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterList {
    /// Which page: the first, or one reached by page token deep in the list.
    pub page: String,
    pub sessions: usize,
    pub one_redis_p50_us: f64,
    pub one_redis_p99_us: f64,
    pub cluster_p50_us: f64,
    pub cluster_p99_us: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterBench {
    pub shards: u32,
    pub primaries: usize,
    pub throughput: Vec<ClusterThroughput>,
    pub list: Vec<ClusterList>,
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    Get,
    Update,
}

fn create() -> SessionCreate {
    SessionCreate { model_id: "gpt-4".into(), tools: vec!["search".into()], ..SessionCreate::default() }
}

/// `ops` operations from CONCURRENCY tasks; operations per second.
async fn throughput(store: &SessionStore, op: Op, ops: usize, ids: &Arc<Vec<String>>) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (store, next, ids) = (store.clone(), next.clone(), ids.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ops {
                        return Ok::<(), agent_sessions_host::Error>(());
                    }
                    let id = &ids[n % ids.len()];
                    match op {
                        Op::Create => drop(store.create(create()).await?),
                        Op::Get => drop(store.get(id).await?),
                        Op::Update => {
                            let changes = SessionUpdate { name: Some(format!("n{n}")), ..SessionUpdate::default() };
                            drop(store.update(id, changes).await?)
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(ops as f64 / started.elapsed().as_secs_f64())
}

async fn load(store: &SessionStore, count: usize) -> anyhow::Result<Vec<String>> {
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(count)));
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (store, ids, next) = (store.clone(), ids.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let id = store.create(create()).await?.id;
                    ids.lock().unwrap().push(id);
                }
                Ok::<(), agent_sessions_host::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(std::mem::take(&mut *ids.lock().unwrap()))
}

/// p50 and p99 of `samples` list calls: the first page, or the page after
/// `depth` pages reached by token.
async fn list_latency(store: &SessionStore, depth: usize, samples: usize) -> anyhow::Result<(f64, f64)> {
    let mut token: Option<String> = None;
    for _ in 0..depth {
        let page = match &token {
            None => store.list(20, 0).await?,
            Some(token) => store.list_after(20, token).await?,
        };
        token = page.next_page_token;
    }
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let page = match &token {
            None => store.list(20, 0).await?,
            Some(token) => store.list_after(20, token).await?,
        };
        latencies.push(started.elapsed());
        anyhow::ensure!(page.sessions.len() == 20, "a page of {}", page.sessions.len());
    }
    latencies.sort();
    Ok((percentile_us(&latencies, 0.5), percentile_us(&latencies, 0.99)))
}

pub fn run(server: &Server, ops: usize, sessions: usize) -> anyhow::Result<ClusterBench> {
    server.flush()?;
    let cluster = RedisCluster::start();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let one = SessionStore::connect(&server.url()).await?;
        let seeds = cluster.seed_urls().join(",");
        let sharded = SessionStore::connect(&seeds).await?;
        let stores = [&one, &sharded];
        let mut ids = Vec::new();
        for store in stores {
            ids.push(Arc::new(load(store, sessions).await?));
        }
        let mut bench = ClusterBench {
            shards: sharded.settings().shards,
            primaries: cluster.primaries().len(),
            ..ClusterBench::default()
        };
        for (op, name) in [(Op::Create, "create"), (Op::Get, "get"), (Op::Update, "update")] {
            let mut seconds = [Duration::ZERO; 2];
            for round in 0..ROUNDS {
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let rate = throughput(stores[which], op, ops / ROUNDS, &ids[which]).await?;
                    seconds[which] += Duration::from_secs_f64((ops / ROUNDS) as f64 / rate);
                }
            }
            let rate = |which: usize| ops as f64 / seconds[which].as_secs_f64();
            bench.throughput.push(ClusterThroughput {
                op: name.into(),
                one_redis_ops_per_s: rate(0),
                cluster_ops_per_s: rate(1),
            });
            eprintln!("   {name}: one Redis {:.0}/s, cluster {:.0}/s", rate(0), rate(1));
        }
        let total = one.list(0, 0).await?.total as usize;
        for (page, depth) in [("first", 0), ("after 25 pages by token", 25)] {
            let (one_p50, one_p99) = list_latency(&one, depth, 200).await?;
            let (cluster_p50, cluster_p99) = list_latency(&sharded, depth, 200).await?;
            bench.list.push(ClusterList {
                page: page.into(),
                sessions: total,
                one_redis_p50_us: one_p50,
                one_redis_p99_us: one_p99,
                cluster_p50_us: cluster_p50,
                cluster_p99_us: cluster_p99,
            });
        }
        Ok(bench)
    })
}
