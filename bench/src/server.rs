//! The redis-server the benchmark runs against, and redis-benchmark.

use std::process::Command;

use anyhow::{Context, bail};

use crate::redis_server;

use crate::report::Run;

pub struct Server {
    inner: redis_server::RedisServer,
    pub port: u16,
}

impl Server {
    pub fn start() -> anyhow::Result<Self> {
        let inner = redis_server::RedisServer::start();
        let port = inner.port();
        Ok(Server { inner, port })
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }

    pub fn connection(&self) -> redis::Connection {
        self.inner.connection()
    }

    pub fn flush(&self) -> anyhow::Result<()> {
        let _: () = redis::cmd("FLUSHALL").query(&mut self.connection())?;
        Ok(())
    }

    /// `INFO commandstats` calls of EVALSHA so far: every kv batch is one.
    pub fn evalsha_calls(&self) -> anyhow::Result<u64> {
        let info: String = redis::cmd("INFO").arg("commandstats").query(&mut self.connection())?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(0))
    }

    /// redis-benchmark PING and HSET at `concurrency`: the round-trip and
    /// server limit of this machine.
    pub fn redis_benchmark(&self, concurrency: usize, requests: usize) -> anyhow::Result<Vec<Run>> {
        let output = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-c", &concurrency.to_string()])
            .args(["-n", &requests.to_string(), "-t", "ping,hset", "--csv"])
            .output()
            .context("run redis-benchmark (it comes with redis-server: apt-get install redis-server)")?;
        if !output.status.success() {
            bail!("redis-benchmark failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut runs = Vec::new();
        // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
            let op = match fields.first() {
                Some(&"PING_MBULK") => "ping",
                Some(&"HSET") => "hset",
                _ => continue,
            };
            let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            runs.push(Run {
                op: op.into(),
                path: "redis-benchmark".into(),
                concurrency,
                ops: requests,
                ops_per_s: number(1),
                p50_us: number(4) * 1000.0,
                p99_us: number(6) * 1000.0,
                round_trips: 1.0,
            });
        }
        if runs.len() != 2 {
            bail!("could not read redis-benchmark's CSV output:\n{text}");
        }
        Ok(runs)
    }
}
