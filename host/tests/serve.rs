//! `sessions serve` as real processes against a real redis-server: metrics
//! against what is in Redis, cleanup with no manual call, two replicas not
//! doubling work, /readyz following Redis, graceful shutdown.

#[path = "../../tests/src/redis_server.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_server;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use serde_json::Value;

/// Liveness guard for polling loops, not a speed check.
const PATIENCE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sessions(redis_url: &str, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_sessions"))
        .args(["--redis", redis_url, "--json"])
        .args(args)
        .env_remove("REDIS_URL")
        .output()
        .expect("run sessions");
    assert!(output.status.success(), "sessions {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

struct Service {
    child: Child,
    port: u16,
}

impl Service {
    fn start(redis_url: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_sessions"))
            .args(["--redis", redis_url, "serve", "--listen", &listen])
            .args(extra)
            .env_remove("REDIS_URL")
            .env("SESSIONS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sessions serve");
        let service = Service { child, port };
        service.wait_for(|s| s.get("/healthz").0 == 200, "/healthz to answer");
        service
    }

    /// GET `path`: status code and body (a minimal HTTP/1.1 client).
    fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    }

    fn metric(&self, name_and_labels: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find(|line| line.starts_with(name_and_labels) && line[name_and_labels.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    fn wait_for(&self, condition: impl Fn(&Self) -> bool, what: &str) {
        let started = Instant::now();
        while !condition(self) {
            assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the exit status and what it logged.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut log = String::new();
                self.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
                return (status, log);
            }
            assert!(started.elapsed() < PATIENCE, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn metrics_match_what_is_in_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    for status in ["running", "running", "idle", "completed"] {
        sessions(&url, &["create", "--model-id", "m", "--status", status]);
    }
    let service = Service::start(&url, &["--stats-interval", "0.2", "--cleanup-interval", "3600"]);
    service.wait_for(|s| s.metric("agent_sessions_sessions") == Some(4.0), "4 live sessions in the gauge");
    assert_eq!(service.metric("agent_sessions_sessions_by_status{status=\"running\"}"), Some(2.0));
    assert_eq!(service.metric("agent_sessions_sessions_by_status{status=\"idle\"}"), Some(1.0));
    assert_eq!(service.metric("agent_sessions_sessions_by_status{status=\"completed\"}"), Some(1.0));
    assert_eq!(service.metric("agent_sessions_sessions_by_activity{active=\"true\"}"), Some(3.0));
    assert_eq!(service.metric("agent_sessions_sessions_by_remaining_ttl{up_to_seconds=\"3600\"}"), Some(4.0));
    assert_eq!(service.metric("agent_sessions_redis_up"), Some(1.0));
    // A session written without a TTL on its hash is an inconsistency.
    let id = sessions(&url, &["create", "--model-id", "m"])["id"].as_str().unwrap().to_owned();
    let mut connection = redis.connection();
    let _: () = redis::cmd("PERSIST").arg(format!("session:{id}:meta")).query(&mut connection).unwrap();
    service.wait_for(
        |s| s.metric("agent_sessions_inconsistencies{kind=\"keys_without_ttl\"}") == Some(1.0),
        "the key without TTL to show",
    );
    let (_, body) = service.get("/metrics");
    assert!(body.contains("# HELP agent_sessions_sessions "), "{body}");
    assert!(body.contains("agent_sessions_operation_duration_seconds_bucket{operation=\"stats\""), "{body}");
    let (status, log) = service.terminate();
    assert!(status.success(), "{log}");
}

/// Creates `n` sessions and expires them at once, as their TTL running out
/// would: Redis drops the expiry key, the hashes stay for cleanup.
fn expired_sessions(redis: &RedisServer, n: usize) -> Vec<String> {
    let url = redis.url();
    let ids: Vec<String> =
        (0..n).map(|_| sessions(&url, &["create", "--model-id", "short"])["id"].as_str().unwrap().to_owned()).collect();
    let mut connection = redis.connection();
    for id in &ids {
        let deleted: i64 = redis::cmd("DEL").arg(format!("session_expiry:{id}")).query(&mut connection).unwrap();
        assert_eq!(deleted, 1);
    }
    ids
}

fn hashes_exist(redis: &RedisServer, id: &str) -> bool {
    let exists: i64 = redis::cmd("EXISTS").arg(format!("session:{id}:meta")).query(&mut redis.connection()).unwrap();
    exists == 1
}

#[test]
fn scheduled_cleanup_removes_expired_sessions_without_a_manual_call() {
    let redis = RedisServer::start();
    let url = redis.url();
    let live = sessions(&url, &["create", "--model-id", "live"])["id"].as_str().unwrap().to_owned();
    let expired = expired_sessions(&redis, 3);
    let service = Service::start(&url, &["--cleanup-interval", "0.5", "--stats-interval", "3600"]);
    let mut connection = redis.connection();
    service.wait_for(|_| expired.iter().all(|id| !hashes_exist(&redis, id)), "cleanup to remove the expired sessions");
    let members: Vec<String> = redis::cmd("SMEMBERS").arg("active_sessions").query(&mut connection).unwrap();
    assert_eq!(members, vec![live.clone()]);
    service.wait_for(|s| s.metric("agent_sessions_cleanup_removed_total") == Some(3.0), "the removal count");
    let (status, log) = service.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("cleanup swept"), "{log}");
    assert!(log.contains("cleanup lease given back"), "{log}");
    let lease: i64 = redis::cmd("EXISTS").arg("cleanup_lease").query(&mut connection).unwrap();
    assert_eq!(lease, 0, "the lease is released on shutdown");
}

/// Scheduled cleanup runs of one replica, by result.
fn runs(service: &Service, result: &str) -> f64 {
    service.metric(&format!("agent_sessions_cleanup_runs_total{{result=\"{result}\"}}")).unwrap_or(0.0)
}

/// Every scheduled cleanup run of one replica, whatever its result: one
/// tick of its scheduler.
fn ticks(service: &Service) -> f64 {
    ["swept", "lease_held", "failed"].iter().map(|result| runs(service, result)).sum()
}

fn removed(service: &Service) -> f64 {
    service.metric("agent_sessions_cleanup_removed_total").unwrap_or(0.0)
}

#[test]
fn two_replicas_do_not_double_the_work() {
    let redis = RedisServer::start();
    let url = redis.url();
    // Someone else holds the cleanup lease (no TTL: until the test gives it
    // back), and 5 sessions wait for cleanup.
    let mut connection = redis.connection();
    let _: () = redis::cmd("HSET").arg("cleanup_lease").arg("holder").arg("the-test").query(&mut connection).unwrap();
    let expired = expired_sessions(&redis, 5);
    let options = ["--cleanup-interval", "0.2", "--stats-interval", "3600"];
    let first = Service::start(&url, &options);
    let second = Service::start(&url, &options);
    let replicas = [&first, &second];

    // While the lease is held elsewhere, every scheduled run finds it held
    // and sweeps nothing: shown after several runs of each replica.
    for replica in replicas {
        replica.wait_for(|s| runs(s, "lease_held") >= 3.0, "3 runs that find the lease held");
    }
    for replica in replicas {
        assert_eq!((runs(replica, "swept"), runs(replica, "failed"), removed(replica)), (0.0, 0.0, 0.0));
    }
    assert!(expired.iter().all(|id| hashes_exist(&redis, id)), "nothing swept without the lease");

    // The lease is free: the replicas take it in turn, and the 5 sessions
    // are removed once between them.
    let _: () = redis::cmd("DEL").arg("cleanup_lease").query(&mut connection).unwrap();
    first.wait_for(|f| removed(f) + removed(&second) >= 5.0, "the 5 expired sessions removed");
    assert!(expired.iter().all(|id| !hashes_exist(&redis, id)));
    // Later sweeps, by either replica, find nothing more to count.
    let seen: Vec<f64> = replicas.iter().map(|replica| ticks(replica)).collect();
    for (replica, seen) in replicas.iter().zip(seen) {
        replica.wait_for(|s| ticks(s) >= seen + 3.0, "3 more scheduled runs");
    }
    assert_eq!(removed(&first) + removed(&second), 5.0, "each expired session is counted once");
    assert!(first.terminate().0.success());
    assert!(second.terminate().0.success());
}

#[test]
fn readyz_follows_redis() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let url = redis.url();
    let service = Service::start(&url, &["--cleanup-interval", "3600", "--stats-interval", "3600"]);
    assert_eq!(service.get("/readyz").0, 200);
    redis.stop();
    service.wait_for(|s| s.get("/readyz").0 == 503, "/readyz to say 503");
    let (_, body) = service.get("/readyz");
    assert!(body.contains("Redis"), "{body}");
    assert_eq!(service.get("/healthz").0, 200, "the process itself is fine");
    assert_eq!(service.metric("agent_sessions_redis_up"), Some(0.0));
    let mut back = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("restart redis-server");
    service.wait_for(|s| s.get("/readyz").0 == 200, "/readyz to say 200 again");
    assert_eq!(service.metric("agent_sessions_redis_up"), Some(1.0));
    assert!(service.terminate().0.success());
    let _ = back.kill();
    let _ = back.wait();
}
