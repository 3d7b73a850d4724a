//! The adapter, natively, against real redis-servers: what it sends, the
//! connection it keeps, and how failures map to storage error kinds. The
//! same code runs in the component over wasi:sockets.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_sessions_kv::wire::{self, BATCH_SEPARATOR};
use agent_sessions_kv::{Batch, BatchOutcome, Condition, ErrorKind, Op, Reply};
use agent_sessions_kv_redis::{Config, RedisKv};

/// A throwaway redis-server on a free port, stopped on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        Self::on_port(free_port())
    }

    fn on_port(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start redis-server (is it installed? `make deps`)");
        // Its log on stdout says when it listens.
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(_)) => {}
                _ => panic!("redis-server on port {port} exited before it was ready"),
            }
        }
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    fn connections_received(&self) -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(&mut self.client()).unwrap();
        let line = info.lines().find(|line| line.starts_with("total_connections_received:")).unwrap();
        line.split(':').nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn adapter(url: String, prefix: &str, timeout: Duration) -> RedisKv {
    RedisKv::new(&Config { url, prefix: prefix.to_owned(), timeout, ..Config::default() })
}

/// Runs a typed batch through the adapter's packed calls.
fn run(kv: &mut RedisKv, batch: &Batch) -> Result<BatchOutcome, agent_sessions_kv::KvError> {
    let packed = wire::encode_batch(batch).unwrap();
    let reply = kv.execute(&packed.keys, &packed.batch)?;
    wire::decode_reply(batch, &reply)
}

fn write(key: &str, value: &str) -> Batch {
    Batch::new().op(Op::HashSet { key: key.into(), fields: vec![("f".into(), value.into())] })
}

fn read(key: &str) -> Batch {
    Batch::new().op(Op::HashGet { key: key.into(), field: "f".into() })
}

#[test]
fn batches_run_under_the_prefix_on_one_kept_connection() {
    let redis = RedisServer::start();
    let mut kv = adapter(redis.url(), "app:", Duration::from_secs(5));
    run(&mut kv, &write("h", "1")).unwrap();
    let stored: Option<String> = redis::cmd("HGET").arg("app:h").arg("f").query(&mut redis.client()).unwrap();
    assert_eq!(stored.as_deref(), Some("1"));
    assert_eq!(run(&mut kv, &read("h")).unwrap(), BatchOutcome::Applied(vec![Reply::Text(Some("1".into()))]));

    // A failed condition comes back as the script's reply, not an error.
    let guarded = Batch::new().condition(Condition::KeyMissing("h".into())).op(Op::Delete("h".into()));
    assert!(matches!(run(&mut kv, &guarded).unwrap(), BatchOutcome::ConditionFailed { index: 0, .. }));

    // Every call since the first used the same connection.
    let before = redis.connections_received();
    for _ in 0..3 {
        run(&mut kv, &read("h")).unwrap();
    }
    assert_eq!(redis.connections_received(), before + 1, "only the INFO connection is new");
    assert!(kv.is_connected());
}

#[test]
fn the_script_is_loaded_again_after_noscript() {
    let redis = RedisServer::start();
    let mut kv = adapter(redis.url(), "", Duration::from_secs(5));
    run(&mut kv, &write("h", "1")).unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut redis.client()).unwrap();
    assert_eq!(run(&mut kv, &read("h")).unwrap(), BatchOutcome::Applied(vec![Reply::Text(Some("1".into()))]));
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut redis.client()).unwrap();
    let loads = stats.lines().find(|line| line.starts_with("cmdstat_script|load:")).unwrap();
    assert!(loads.contains("calls=2,"), "{loads}");
}

#[test]
fn execute_each_joins_the_replies_in_order() {
    let redis = RedisServer::start();
    let mut kv = adapter(redis.url(), "p:", Duration::from_secs(5));
    run(&mut kv, &write("a", "A")).unwrap();
    run(&mut kv, &write("b", "B")).unwrap();
    let batches = [read("a"), read("b"), read("missing")];
    let packed: Vec<_> = batches.iter().map(|batch| wire::encode_batch(batch).unwrap()).collect();
    let separator = BATCH_SEPARATOR.to_string();
    let keys = packed.iter().map(|p| p.keys.as_str()).collect::<Vec<_>>().join(&separator);
    let texts = packed.iter().map(|p| p.batch.as_str()).collect::<Vec<_>>().join(&separator);
    let replies = kv.execute_each(&keys, &texts).unwrap();
    let replies: Vec<&str> = replies.split(BATCH_SEPARATOR).collect();
    let values: Vec<_> =
        batches.iter().zip(replies).map(|(batch, reply)| wire::decode_reply(batch, reply).unwrap()).collect();
    let text = |value: Option<&str>| BatchOutcome::Applied(vec![Reply::Text(value.map(str::to_owned))]);
    assert_eq!(values, vec![text(Some("A")), text(Some("B")), text(None)]);

    let error = kv.execute_each("a", &format!("[0]{BATCH_SEPARATOR}[0]")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidBatch);
}

#[test]
fn no_server_is_unavailable_and_the_next_call_connects() {
    let port = free_port();
    let mut kv = adapter(format!("redis://:secret@127.0.0.1:{port}"), "", Duration::from_secs(5));
    let error = run(&mut kv, &read("h")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error:?}");
    assert!(error.message.contains("cannot connect") && !error.message.contains("secret"), "{}", error.message);

    let _redis = RedisServer::on_port(port);
    // The server has no password: the AUTH the URL asks for is refused.
    let error = run(&mut kv, &read("h")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Other, "{error:?}");
    assert!(!error.message.contains("secret"), "{}", error.message);
    let mut kv = adapter(format!("redis://127.0.0.1:{port}"), "", Duration::from_secs(5));
    run(&mut kv, &read("h")).unwrap();
}

#[test]
fn a_killed_connection_fails_one_call_and_the_next_reconnects() {
    let redis = RedisServer::start();
    let mut kv = adapter(redis.url(), "", Duration::from_secs(5));
    run(&mut kv, &write("h", "1")).unwrap();
    let _: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut redis.client())
        .unwrap();
    let error = run(&mut kv, &read("h")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error:?}");
    assert!(!kv.is_connected());
    assert_eq!(run(&mut kv, &read("h")).unwrap(), BatchOutcome::Applied(vec![Reply::Text(Some("1".into()))]));
}

#[test]
fn a_server_that_stops_answering_is_a_timeout_and_the_next_call_reconnects() {
    let redis = RedisServer::start();
    let mut kv = adapter(redis.url(), "", Duration::from_millis(200));
    run(&mut kv, &write("h", "1")).unwrap();
    // Scripts wait until CLIENT UNPAUSE (in WRITE mode every EVALSHA
    // does; other commands, UNPAUSE among them, run): the read times out.
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(600_000).arg("WRITE").query(&mut redis.client()).unwrap();
    let error = run(&mut kv, &read("h")).unwrap_err();
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut redis.client()).unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error:?}");
    assert!(!kv.is_connected(), "a late reply must not answer the next command");
    assert_eq!(run(&mut kv, &read("h")).unwrap(), BatchOutcome::Applied(vec![Reply::Text(Some("1".into()))]));
}

#[test]
fn a_cluster_node_is_refused_with_a_message_saying_so() {
    // A plain server in cluster mode without slots answers CLUSTERDOWN.
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("kv-redis-cluster-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--cluster-enabled", "yes", "--cluster-config-file", dir.join("nodes.conf").to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("Ready to accept connections") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let mut kv = adapter(format!("redis://127.0.0.1:{port}"), "", Duration::from_secs(5));
    let error = run(&mut kv, &write("h", "1")).unwrap_err();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(error.kind, ErrorKind::Other, "{error:?}");
    assert!(error.message.contains("not a Cluster"), "{}", error.message);
}
