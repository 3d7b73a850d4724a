//! Redis failing under the host: stopped mid-load, paused, restarted. The
//! host must answer every call (an error, never a hang), never replay a
//! write, and recover by itself.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_sessions_host::{Error, GuestLimits, RedisOptions, SessionStore, SessionUpdate};
use agent_sessions_tests::{Frozen, RedisServer, example, invariants};

/// A redis-server on a given port (to come back where the old one was).
struct Restarted(Child);

impl Restarted {
    fn on_port(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("restart redis-server");
        Restarted(child)
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn limits(timeout: Duration) -> GuestLimits {
    GuestLimits { timeout, ..GuestLimits::default() }
}

/// Liveness guard, not a speed check: a call that has not returned after
/// this long is hung.
const HUNG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_load_fails_fast_and_the_host_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let options = RedisOptions {
        connect_timeout: Duration::from_millis(500),
        response_timeout: Duration::from_secs(1),
        reconnect_retries: 1,
        ..RedisOptions::default()
    };
    let store = SessionStore::builder()
        .redis_with_options(redis.url(), options)
        .limits(limits(Duration::from_secs(3)))
        .build()
        .await
        .unwrap();
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..16 {
            ids.push(store.create(example()).await.unwrap().id);
        }
        ids
    };

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, recovered) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let down = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let (store, stop, ok, failed, recovered, down) =
                (store.clone(), stop.clone(), ok.clone(), failed.clone(), recovered.clone(), down.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let call = async {
                        if n.is_multiple_of(2) {
                            store.get(&id).await.map(|_| ())
                        } else {
                            let change = SessionUpdate { max_tokens: Some(1 + n as i64 % 1000), ..Default::default() };
                            store.update(&id, change).await.map(|_| ())
                        }
                    };
                    match tokio::time::timeout(HUNG, call).await {
                        Err(_) => panic!("a call hung with Redis down"),
                        Ok(Ok(())) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if down.load(Ordering::Relaxed) {
                                recovered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // After the restart Redis is empty: the session is gone.
                        Ok(Err(Error::NotFound(_))) => {
                            recovered.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Ok(Err(Error::Unavailable(_) | Error::StorageTimeout(_) | Error::Timeout(_))) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Ok(Err(other)) => panic!("unexpected error with Redis down: {other:?}"),
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.stop();
    down.store(true, Ordering::Relaxed);
    let stopped_at = Instant::now();
    while failed.load(Ordering::Relaxed) < 32 && stopped_at.elapsed() < HUNG {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failed.load(Ordering::Relaxed) >= 32, "calls kept failing to return while Redis was down");

    let _restarted = Restarted::on_port(port);
    let restarted_at = Instant::now();
    while recovered.load(Ordering::Relaxed) < 32 && restarted_at.elapsed() < HUNG {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(recovered.load(Ordering::Relaxed) >= 32, "the host did not recover after Redis came back");
    // The same store serves new sessions without being rebuilt.
    let id = store.create(example()).await.unwrap().id;
    assert!(store.get(&id).await.is_ok());
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap();
    let violations = invariants::check_after_cleanup(&store, &mut r).await;
    assert!(violations.is_empty(), "{violations:?}");
    eprintln!(
        "redis stopped mid-load: {} calls ok, {} failed fast while down, {} answered after the restart",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        recovered.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_times_out_and_writes_are_not_replayed() {
    let redis = RedisServer::start();
    let limit = Duration::from_millis(400);
    let store = SessionStore::builder().redis(redis.url()).limits(limits(limit)).build().await.unwrap();
    let id = store.create(example()).await.unwrap().id;
    // Redis stays paused until both calls have timed out, however long
    // that takes on a busy machine.
    let paused = Frozen::freeze(&redis);
    let update = store.update(&id, SessionUpdate { name: Some("during pause".into()), ..SessionUpdate::default() });
    let update = tokio::time::timeout(HUNG, update).await.expect("the update hung with Redis paused");
    assert!(matches!(update, Err(Error::Timeout(_))), "{update:?}");
    let read = tokio::time::timeout(HUNG, store.get(&id)).await.expect("the read hung with Redis paused");
    assert_eq!(read, Err(Error::Timeout(limit)), "the error names the limit");
    let message = Error::Timeout(limit).to_string();
    assert_eq!(message, "operation timed out after 400ms");

    // Once Redis resumes, the store serves again without being rebuilt, and
    // the update that timed out was applied at most once.
    drop(paused);
    let deadline = Instant::now() + HUNG;
    let session = loop {
        match store.get(&id).await {
            Ok(session) => break session,
            Err(Error::Timeout(_)) if Instant::now() < deadline => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(session.id, id);
    assert!(session.meta.version <= 2, "a write was replayed: version {}", session.meta.version);
    let violations = invariants::check_after_cleanup(&store, &mut redis.connection()).await;
    assert!(violations.is_empty(), "{violations:?}");
}
