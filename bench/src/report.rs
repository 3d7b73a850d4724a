//! Results: the table printed at the end and target/bench/results.json.

use serde::Serialize;
use serde_json::{Value, json};

/// One measurement: an operation on one path at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub op: String,
    /// component | native | redis-benchmark
    pub path: String,
    pub concurrency: usize,
    pub ops: usize,
    pub ops_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Redis round trips per operation, counted by the kv layer.
    pub round_trips: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListPoint {
    pub sessions: usize,
    pub offset: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ListScaling {
    pub points: Vec<ListPoint>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleanup {
    pub sessions: usize,
    pub live_sessions_kept: usize,
    pub seconds: f64,
    pub sessions_per_s: f64,
    pub round_trips: u64,
    pub slowest_command_us: f64,
    pub slowest_command: String,
    pub commands_over_5ms: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Overhead {
    /// Preparing a sandboxed store and instantiating the component.
    pub instance_preparation_us: f64,
    /// `sessions get ID` as a whole process (median).
    pub cli_get_ms: f64,
    /// `redis-cli HGETALL` as a whole process (median).
    pub redis_cli_hgetall_ms: f64,
    /// Peak resident memory of the benchmark process (both paths, up to
    /// concurrency 32).
    pub peak_rss_bytes: u64,
}

/// Where a get's time goes outside the component (see `fixtures::get_breakdown`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GetBreakdown {
    /// PING over the host's Redis client (redis-rs connection manager).
    pub client_ping_us: f64,
    /// The get's kv batch sent directly: packing, EVALSHA, reading the reply.
    pub kv_batch_us: f64,
    /// Redis' own time per EVALSHA of that batch (INFO commandstats).
    pub redis_evalsha_us: f64,
}

pub struct Report {
    pub cores: usize,
    pub quick: bool,
    pub runs: Vec<Run>,
    pub list_scaling: ListScaling,
    pub cleanup: Cleanup,
    pub overhead: Overhead,
    pub get_breakdown: GetBreakdown,
    pub peak_rss_bytes: u64,
    pub evalsha_calls: u64,
    pub elapsed_s: f64,
    pub cluster: crate::cluster::ClusterBench,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

impl Report {
    pub fn new(cores: usize, quick: bool) -> Self {
        Report {
            cores,
            quick,
            runs: Vec::new(),
            list_scaling: ListScaling::default(),
            cleanup: Cleanup::default(),
            overhead: Overhead::default(),
            get_breakdown: GetBreakdown::default(),
            peak_rss_bytes: 0,
            evalsha_calls: 0,
            elapsed_s: 0.0,
            cluster: Default::default(),
        }
    }

    fn find(&self, op: &str, path: &str, concurrency: usize) -> Option<&Run> {
        self.runs.iter().find(|r| r.op == op && r.path == path && r.concurrency == concurrency)
    }

    /// Every target of the performance issue, with the figure that meets it
    /// or not.
    pub fn targets(&self) -> Vec<(String, String, bool)> {
        let mut targets = Vec::new();
        for (concurrency, wanted) in [(1, 0.95), (32, 0.95)] {
            for op in ["create", "get", "update", "extend", "delete", "list"] {
                if let (Some(c), Some(n)) =
                    (self.find(op, "component", concurrency), self.find(op, "native", concurrency))
                {
                    let r = ratio(c.ops_per_s, n.ops_per_s);
                    targets.push((
                        format!("{op} c={concurrency}: component/native throughput >= {wanted}"),
                        format!("{r:.2}"),
                        r >= wanted,
                    ));
                }
            }
        }
        for op in ["create", "get", "update", "extend", "delete", "list"] {
            if let Some(c) = self.find(op, "component", 1) {
                let limit = if op == "list" { 2.0 } else { 1.0 };
                targets.push((
                    format!("{op}: round trips <= {limit}"),
                    format!("{:.2}", c.round_trips),
                    c.round_trips <= limit + 1e-9,
                ));
            }
        }
        if let Some(ping) = self.find("ping", "redis-benchmark", 1) {
            for (op, limit) in
                [("get", 3.0), ("extend", 3.0), ("delete", 3.0), ("create", 4.0), ("update", 4.0), ("list", 10.0)]
            {
                if let Some(c) = self.find(op, "component", 1) {
                    let r = ratio(c.p50_us, ping.p50_us);
                    targets.push((
                        format!("{op} c=1: p50 within {limit}x of redis-benchmark PING p50"),
                        format!("{r:.2}x ({:.0} us vs {:.0} us)", c.p50_us, ping.p50_us),
                        r <= limit,
                    ));
                }
            }
        }
        let points = &self.list_scaling.points;
        if let (Some(smallest), Some(largest)) = (points.first().map(|p| p.sessions), points.last().map(|p| p.sessions))
        {
            for offset in [0u64, 990] {
                let small = points.iter().find(|p| p.sessions == smallest && p.offset == offset);
                let large = points.iter().find(|p| p.sessions == largest && p.offset == offset);
                if let (Some(small), Some(large)) = (small, large) {
                    let r = ratio(large.p50_us, small.p50_us);
                    targets.push((
                        format!("list page at offset {offset}: {largest} sessions within 2x of {smallest}"),
                        format!("{r:.2}x"),
                        r <= 2.0,
                    ));
                }
            }
        }
        let c = &self.cleanup;
        targets.push((
            "cleanup >= 100k expired sessions/s".into(),
            format!("{:.0}/s", c.sessions_per_s),
            c.sessions_per_s >= 100_000.0,
        ));
        targets.push((
            "no Redis command slower than 5 ms during cleanup".into(),
            format!(
                "slowest {:.2} ms ({})",
                c.slowest_command_us / 1000.0,
                if c.slowest_command.is_empty() { "none over 0.1 ms" } else { &c.slowest_command }
            ),
            c.commands_over_5ms == 0,
        ));
        let o = &self.overhead;
        targets.push((
            "instance preparation per call < 20 us".into(),
            format!("{:.1} us", o.instance_preparation_us),
            o.instance_preparation_us < 20.0,
        ));
        let r = ratio(o.cli_get_ms, o.redis_cli_hgetall_ms);
        targets.push((
            "`sessions get` process within 10x of `redis-cli HGETALL`".into(),
            format!("{r:.1}x ({:.1} ms vs {:.1} ms)", o.cli_get_ms, o.redis_cli_hgetall_ms),
            r <= 10.0,
        ));
        targets
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\nagent-sessions benchmark ({} scale, {} cores, {:.0} s)\n\n",
            if self.quick { "quick" } else { "default" },
            self.cores,
            self.elapsed_s
        ));
        out.push_str(&format!(
            "{:<8} {:>4} | {:>10} {:>8} {:>8} {:>4} | {:>10} {:>8} {:>8} {:>4} | {:>6}\n",
            "op", "conc", "comp op/s", "p50 us", "p99 us", "rt", "nat op/s", "p50 us", "p99 us", "rt", "ratio"
        ));
        for concurrency in [1, 32] {
            for op in ["create", "get", "update", "extend", "list", "delete"] {
                if let (Some(c), Some(n)) =
                    (self.find(op, "component", concurrency), self.find(op, "native", concurrency))
                {
                    out.push_str(&format!(
                        "{:<8} {:>4} | {:>10.0} {:>8.0} {:>8.0} {:>4.2} | {:>10.0} {:>8.0} {:>8.0} {:>4.2} | {:>6.2}\n",
                        op,
                        concurrency,
                        c.ops_per_s,
                        c.p50_us,
                        c.p99_us,
                        c.round_trips,
                        n.ops_per_s,
                        n.p50_us,
                        n.p99_us,
                        n.round_trips,
                        ratio(c.ops_per_s, n.ops_per_s)
                    ));
                }
            }
            for op in ["ping", "hset"] {
                if let Some(r) = self.find(op, "redis-benchmark", concurrency) {
                    out.push_str(&format!(
                        "{:<8} {:>4} | {:>10.0} {:>8.0} {:>8.0}  (redis-benchmark)\n",
                        op, concurrency, r.ops_per_s, r.p50_us, r.p99_us
                    ));
                }
            }
        }
        out.push_str("\nlist page (10 sessions) latency, component path, concurrency 1\n");
        for p in &self.list_scaling.points {
            out.push_str(&format!(
                "  {:>9} sessions, offset {:>7}: p50 {:>6.0} us, p99 {:>6.0} us\n",
                p.sessions, p.offset, p.p50_us, p.p99_us
            ));
        }
        let c = &self.cleanup;
        out.push_str(&format!(
            "\ncleanup: {} expired sessions removed in {:.2} s ({:.0}/s, {} round trips), {} live kept; slowest Redis command {:.2} ms {}\n",
            c.sessions, c.seconds, c.sessions_per_s, c.round_trips, c.live_sessions_kept, c.slowest_command_us / 1000.0, c.slowest_command
        ));
        let o = &self.overhead;
        out.push_str(&format!(
            "overhead: instance preparation {:.1} us per call; peak RSS {:.0} MiB; `sessions get` {:.1} ms vs `redis-cli HGETALL` {:.1} ms per process\n",
            o.instance_preparation_us, o.peak_rss_bytes as f64 / 1048576.0, o.cli_get_ms, o.redis_cli_hgetall_ms
        ));
        out.push_str(&format!("round trips cross-check: {} EVALSHA calls in INFO commandstats\n", self.evalsha_calls));
        let b = &self.get_breakdown;
        let component = self.find("get", "component", 1).map_or(0.0, |r| r.p50_us);
        let native = self.find("get", "native", 1).map_or(0.0, |r| r.p50_us);
        let ping = self.find("ping", "redis-benchmark", 1).map_or(0.0, |r| r.p50_us);
        out.push_str(&format!(
            "get at c=1, p50: redis-benchmark PING {ping:.0} us; PING over redis-rs {:.0} us; the get's kv batch alone {:.0} us (Redis runs the script in {:.1} us); native get {native:.0} us; component get {component:.0} us\n",
            b.client_ping_us, b.kv_batch_us, b.redis_evalsha_us
        ));
        let cl = &self.cluster;
        out.push_str(&format!(
            "\nRedis Cluster ({} primaries sharing these cores, {} shards) against one Redis, concurrency 32\n",
            cl.primaries, cl.shards
        ));
        for t in &cl.throughput {
            out.push_str(&format!(
                "  {:<8} one Redis {:>8.0} op/s | cluster {:>8.0} op/s | ratio {:.2}\n",
                t.op,
                t.one_redis_ops_per_s,
                t.cluster_ops_per_s,
                ratio(t.cluster_ops_per_s, t.one_redis_ops_per_s)
            ));
        }
        for l in &cl.list {
            out.push_str(&format!(
                "  list 20, {} page of {}: one Redis p50 {:.0} us p99 {:.0} us | cluster p50 {:.0} us p99 {:.0} us\n",
                l.page, l.sessions, l.one_redis_p50_us, l.one_redis_p99_us, l.cluster_p50_us, l.cluster_p99_us
            ));
        }
        out.push_str("\ntargets\n");
        for (name, figure, met) in self.targets() {
            out.push_str(&format!("  [{}] {name}: {figure}\n", if met { "met " } else { "MISS" }));
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "cores": self.cores,
            "machine": {
                "cores": self.cores,
                "cpu": cpu_model(),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "scale": if self.quick { "quick" } else { "default" },
            "elapsed_s": self.elapsed_s,
            "runs": self.runs,
            "list_scaling": self.list_scaling,
            "cleanup": self.cleanup,
            "overhead": self.overhead,
            "get_breakdown": self.get_breakdown,
            "evalsha_calls": self.evalsha_calls,
            "cluster": self.cluster,
            "targets": self.targets().into_iter().map(|(target, figure, met)| json!({"target": target, "figure": figure, "met": met})).collect::<Vec<_>>(),
        })
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|line| {
                line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default()
}
