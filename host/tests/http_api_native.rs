//! Smoke test of `sessions serve --api` as a real process on a real
//! redis-server: a session's lifecycle over HTTP (statuses, ETag, the keys
//! in Redis), the token, /metrics beside the API, graceful shutdown. Every
//! route and status is the Python suite's (tests/http/); this checks the
//! native wiring. Lives here, not in tests/, for `CARGO_BIN_EXE_sessions`.

#[path = "../../tests/src/redis_server.rs"]
#[allow(dead_code)] // shared with tests/, which uses all of it
mod redis_server;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;
use redis_server::RedisServer;
use serde_json::Value;

/// Liveness guard for polling loops, not a speed check.
const PATIENCE: Duration = Duration::from_secs(30);

const TOKEN: &str = "smoke-test-token";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A response: status, headers (names in lower case), body.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

struct Service {
    child: Child,
    port: u16,
}

impl Service {
    fn start(redis_url: &str) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_sessions"))
            .args(["--redis", redis_url, "serve", "--api", "--listen", &listen])
            .env_remove("REDIS_URL")
            .env_remove("SESSIONS_API_AUTH")
            .env("SESSIONS_API_TOKEN", TOKEN)
            .env("SESSIONS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sessions serve --api");
        let service = Service { child, port };
        let started = Instant::now();
        while service.try_request("GET", "/healthz", &[], None).map(|r| r.status) != Some(200) {
            assert!(started.elapsed() < PATIENCE, "timed out waiting for /healthz");
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    /// One request over a fresh connection (a minimal HTTP/1.1 client:
    /// `Connection: close`, fixed-length or chunked bodies).
    fn try_request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Option<Reply> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        stream.write_all(request.as_bytes()).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: BTreeMap<String, String> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.get("transfer-encoding").is_some_and(|coding| coding.eq_ignore_ascii_case("chunked")) {
            body = dechunk(&body)?;
        }
        Some(Reply { status, headers, body })
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        self.try_request(method, path, headers, body).unwrap_or_else(|| panic!("{method} {path}: no response"))
    }

    /// A request with the bearer token.
    fn authorized(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        let bearer = format!("Bearer {TOKEN}");
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        self.request(method, path, &all, body)
    }

    fn metric(&self, name_and_labels: &str) -> Option<f64> {
        let reply = self.request("GET", "/metrics", &[], None);
        String::from_utf8_lossy(&reply.body)
            .lines()
            .find(|line| line.starts_with(name_and_labels) && line[name_and_labels.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < PATIENCE, "serve --api did not stop on SIGTERM");
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

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        body = &body[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// The keys of session `chat-1`, and whether the list index has it.
fn session_keys(redis: &RedisServer) -> Vec<String> {
    let mut keys: Vec<String> = redis.connection().keys("*chat-1*").unwrap();
    keys.sort();
    keys
}

#[test]
fn a_session_lifecycle_over_http() {
    let redis = RedisServer::start();
    let service = Service::start(&redis.url());

    // No token: refused, nothing written.
    let refused = service.request("POST", "/sessions", &[], Some(r#"{"id":"chat-1","model_id":"gpt-4"}"#));
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").is_some_and(|value| value.starts_with("Bearer")));
    assert_eq!(refused.json()["kind"], "unauthorized");
    assert!(session_keys(&redis).is_empty());

    let created = service.authorized("POST", "/sessions", &[], Some(r#"{"id":"chat-1","model_id":"gpt-4"}"#));
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.header("location"), Some("/sessions/chat-1"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.json()["model_id"], "gpt-4");
    assert_eq!(session_keys(&redis), ["session:chat-1:data", "session:chat-1:meta", "session_expiry:chat-1"]);
    let members: Vec<String> = redis.connection().smembers("active_sessions").unwrap();
    assert_eq!(members, ["chat-1"]);
    let indexed: Option<f64> = redis.connection().zscore("session_index", "chat-1").unwrap();
    assert!(indexed.is_some());

    let read = service.authorized("GET", "/sessions/chat-1", &[], None);
    assert_eq!((read.status, read.header("etag")), (200, Some("\"1\"")));
    assert_eq!(read.json()["id"], "chat-1");

    // A stale ETag loses; the current one wins and moves the version.
    let stale = service.authorized("PATCH", "/sessions/chat-1", &[("If-Match", "\"7\"")], Some(r#"{"name":"x"}"#));
    assert_eq!(stale.status, 412);
    assert_eq!(stale.header("content-type"), Some("application/problem+json"));
    let updated = service.authorized("PATCH", "/sessions/chat-1", &[("If-Match", "\"1\"")], Some(r#"{"name":"x"}"#));
    assert_eq!((updated.status, updated.header("etag")), (200, Some("\"2\"")));
    let version: String = redis.connection().hget("session:chat-1:meta", "version").unwrap();
    assert_eq!(version, "2");

    let deleted = service.authorized("DELETE", "/sessions/chat-1", &[], None);
    assert_eq!(deleted.status, 204);
    assert!(session_keys(&redis).is_empty());
    let indexed: Option<f64> = redis.connection().zscore("session_index", "chat-1").unwrap();
    assert_eq!(indexed, None);
    let gone = service.authorized("GET", "/sessions/chat-1", &[], None);
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["kind"], "not_found");

    // /metrics stays the host's, beside the API, counting each request by
    // the repository operation it called.
    let counted = |operation: &str, status: u16| {
        service.metric(&format!("agent_sessions_http_requests_total{{operation=\"{operation}\",status=\"{status}\"}}"))
    };
    assert_eq!(counted("create", 201), Some(1.0));
    assert_eq!(counted("update", 412), Some(1.0));
    assert_eq!(counted("delete", 204), Some(1.0));
    assert_eq!(counted("get", 404), Some(1.0));
    assert_eq!(counted("none", 401), Some(1.0));

    assert!(service.terminate().success());
}

/// The fixed cost of a request: a store and a front instance. Printed for
/// the notes (`--nocapture`), not asserted.
#[tokio::test]
async fn front_instantiation_cost() {
    let store = agent_sessions_host::SessionStore::in_memory().await.unwrap();
    let api = agent_sessions_host::HttpApi::new(store, []).unwrap();
    let cost = api.instance_preparation_time(200).await.unwrap();
    eprintln!("HTTP front: store + instance per request {cost:?} (mean of 200)");
}
