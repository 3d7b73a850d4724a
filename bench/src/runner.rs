//! Runs operations at a given concurrency and measures them. Each client
//! thread runs its share of the concurrent tasks on its own current-thread
//! runtime with its own connection, for both paths alike.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::report::Run;
use agent_sessions_bench::paths::{Op, Path, PathKind};
use agent_sessions_bench::percentile_us;

/// Sessions `get`, `update`, `extend` pick from (the first ones created).
const HOT_SESSIONS: usize = 1000;

/// Client threads: one core is left to redis-server (single-threaded), as
/// redis-benchmark (one thread) leaves it; on 2 cores that is one thread.
pub fn client_threads(concurrency: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    concurrency.min(cores.saturating_sub(1)).max(1)
}

/// What one chunk of operations measured.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    elapsed: Duration,
    round_trips: u64,
    created: Vec<String>,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.round_trips += other.round_trips;
        self.created.extend(other.created);
    }

    fn run(mut self, op: Op, kind: PathKind, concurrency: usize) -> Run {
        self.latencies.sort();
        let ops = self.latencies.len();
        Run {
            op: op.name().into(),
            path: kind.name().into(),
            concurrency,
            ops,
            ops_per_s: ops as f64 / self.elapsed.as_secs_f64(),
            p50_us: percentile_us(&self.latencies, 0.50),
            p99_us: percentile_us(&self.latencies, 0.99),
            round_trips: self.round_trips as f64 / ops.max(1) as f64,
        }
    }
}

/// Runs create, get, update, extend, list and delete in turn, `ops` each,
/// on both paths. Each operation is measured in `chunks` alternating
/// chunks (component, native, native, component, ...), so that the noise of
/// a shared machine falls on both paths alike.
pub fn run_both_paths(url: &str, concurrency: usize, ops: usize, chunks: usize) -> anyhow::Result<Vec<Run>> {
    let threads = client_threads(concurrency);
    let per_chunk = ops.div_ceil(chunks);
    let kinds = [PathKind::Component, PathKind::Native];
    let mut ids: [Arc<Vec<String>>; 2] = [Arc::default(), Arc::default()];
    let mut runs = Vec::new();
    for op in Op::ALL {
        let mut samples = [Sample::default(), Sample::default()];
        for chunk in 0..chunks {
            let order = if chunk % 2 == 0 { [0, 1] } else { [1, 0] };
            for path in order {
                // Deletes take fresh sessions: this chunk's share of the created ones.
                let pool = if op == Op::Delete {
                    let start = (chunk * per_chunk).min(ids[path].len());
                    let end = ((chunk + 1) * per_chunk).min(ids[path].len());
                    Arc::new(ids[path][start..end].to_vec())
                } else {
                    ids[path].clone()
                };
                let sample = measure(url, kinds[path], op, concurrency, threads, per_chunk, pool)?;
                samples[path].add(sample);
            }
        }
        for (path, sample) in samples.into_iter().enumerate() {
            if op == Op::Create {
                ids[path] = Arc::new(sample.created.clone());
            }
            runs.push(sample.run(op, kinds[path], concurrency));
        }
    }
    Ok(runs)
}

fn measure(
    url: &str,
    kind: PathKind,
    op: Op,
    concurrency: usize,
    threads: usize,
    ops: usize,
    ids: Arc<Vec<String>>,
) -> anyhow::Result<Sample> {
    let next = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let results = Arc::new(Mutex::new((Vec::<Duration>::new(), Vec::<String>::new(), 0u64)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut handles = Vec::new();
    for thread in 0..threads {
        let tasks = concurrency / threads + usize::from(thread < concurrency % threads);
        let (url, next, barrier, results, failures, ids) =
            (url.to_owned(), next.clone(), barrier.clone(), results.clone(), failures.clone(), ids.clone());
        handles.push(std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let path = match Path::connect(kind, &url).await {
                    Ok(path) => path,
                    Err(e) => {
                        failures.lock().unwrap().push(format!("connect: {e}"));
                        barrier.wait();
                        return;
                    }
                };
                let round_trips_before = path.kv().round_trips();
                barrier.wait();
                let mut workers = Vec::new();
                for _ in 0..tasks {
                    let (path, next, ids, failures) = (path.clone(), next.clone(), ids.clone(), failures.clone());
                    workers.push(tokio::task::spawn_local(async move {
                        let mut latencies = Vec::new();
                        let mut created = Vec::new();
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            if n >= ops {
                                break;
                            }
                            let id = match op {
                                Op::Delete => ids.get(n).cloned().unwrap_or_default(),
                                _ if ids.is_empty() => String::new(),
                                _ => ids[(n * 7919) % ids.len().min(HOT_SESSIONS)].clone(),
                            };
                            let started = Instant::now();
                            match path.run(op, &id, n).await {
                                Ok(new_id) => {
                                    latencies.push(started.elapsed());
                                    created.extend(new_id);
                                }
                                Err(e) => {
                                    failures.lock().unwrap().push(format!("{} #{n}: {e}", op.name()));
                                    break;
                                }
                            }
                        }
                        (latencies, created)
                    }));
                }
                for worker in workers {
                    let (latencies, created) = worker.await.expect("worker");
                    let mut results = results.lock().unwrap();
                    results.0.extend(latencies);
                    results.1.extend(created);
                }
                results.lock().unwrap().2 += path.kv().round_trips() - round_trips_before;
            });
        }));
    }
    barrier.wait();
    let started = Instant::now();
    for handle in handles {
        handle.join().map_err(|_| anyhow!("a benchmark thread panicked"))?;
    }
    let elapsed = started.elapsed();
    let failures = failures.lock().unwrap();
    if !failures.is_empty() {
        return Err(anyhow!("{} {} failed: {}", kind.name(), op.name(), failures[0]));
    }
    let (latencies, created, round_trips) = std::mem::take(&mut *results.lock().unwrap());
    Ok(Sample { latencies, elapsed, round_trips, created })
}

/// Peak resident memory of this process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
