//! Concurrency on a real Redis and on a real Redis Cluster (sharded layout),
//! from many tasks and several OS processes: no lost update, no resurrected
//! session, cleanup that several processes can run at once. Every scenario
//! ends with the keyspace invariant checker (over every primary).

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use agent_sessions_host::{Error, SessionCreate, SessionStore, SessionUpdate};
use agent_sessions_tests::deployment::{AnyConnection, Deployment};
use agent_sessions_tests::{cas_increments, minimal};
use serde_json::Value;

/// Runs each scenario `async fn name(deployment: Deployment)` on one Redis
/// server and on a Redis Cluster.
macro_rules! on_server_and_cluster {
    ($($scenario:ident),* $(,)?) => {
        mod server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Deployment::server()).await
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Deployment::cluster()).await
                }
            )*
        }
    };
}

on_server_and_cluster!(
    no_update_is_lost_across_tasks_and_processes,
    updates_racing_delete_and_expiry_never_resurrect,
    cleanup_from_three_processes_removes_each_expired_session_once,
);

fn worker(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_session-worker"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start session-worker")
}

fn worker_result(child: std::process::Child) -> Value {
    let output = child.wait_with_output().expect("session-worker");
    assert!(output.status.success(), "session-worker failed: {output:?}");
    serde_json::from_slice(&output.stdout).expect("session-worker prints JSON")
}

async fn no_update_is_lost_across_tasks_and_processes(redis: Deployment) {
    const TASKS: u64 = 16;
    const PROCESSES: u64 = 2;
    const TASKS_PER_PROCESS: u64 = 1;
    const UPDATES: u64 = 200;
    let store = redis.store().await;
    let id = store.create(SessionCreate { max_tokens: Some(1), ..minimal("counter") }).await.unwrap().id;

    let processes: Vec<_> = (0..PROCESSES)
        .map(|_| worker(&["increment", &redis.url(), &id, &TASKS_PER_PROCESS.to_string(), &UPDATES.to_string()]))
        .collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { cas_increments(&store, &id, UPDATES).await.unwrap() })
        })
        .collect();
    let (mut applied, mut conflicts) = (0, 0);
    for task in tasks {
        let (a, c) = task.await.unwrap();
        applied += a;
        conflicts += c;
    }
    for process in processes {
        let result = worker_result(process);
        applied += result["applied"].as_u64().unwrap();
        conflicts += result["conflicts"].as_u64().unwrap();
    }

    let expected = (TASKS + PROCESSES * TASKS_PER_PROCESS) * UPDATES;
    assert_eq!(applied, expected);
    let session = store.get(&id).await.unwrap();
    assert_eq!(session.data.max_tokens, Some(1 + expected as i64), "every applied update is in the final state");
    assert_eq!(session.meta.version, 1 + expected, "conflicted attempts wrote nothing");
    eprintln!(
        "lost updates: {applied} updates applied by {} writers, {conflicts} conflicts retried",
        TASKS + PROCESSES * TASKS_PER_PROCESS
    );
    redis.assert_no_violations(&store).await;
}

/// Ends a session as the race's killer does: delete (even `n`) or expiry
/// forced to within a few milliseconds (odd `n`), then waits until the
/// expiry key is really gone (an extend that won the race may have renewed
/// it, which is fine: the session was alive then).
async fn end_session(store: &SessionStore, r: &mut AnyConnection, id: &str, n: usize) {
    let id_parsed = agent_sessions_guest::id::SessionId::parse(id).unwrap();
    let expiry = store.settings().layout().session_keys(&id_parsed).expiry;
    loop {
        if n.is_multiple_of(2) {
            store.delete(id).await.unwrap();
        } else {
            let _: () = r.query(redis::cmd("PEXPIRE").arg(&expiry).arg(1 + n % 3)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let exists: bool = r.query(redis::cmd("EXISTS").arg(&expiry)).await.unwrap();
        if !exists {
            return;
        }
    }
}

async fn updates_racing_delete_and_expiry_never_resurrect(redis: Deployment) {
    const SESSIONS: usize = 2000;
    const WRITERS: usize = 16;
    let store = redis.store().await;
    let connection = redis.connection().await;

    // Each writer takes every WRITERS-th session: create it, race an update
    // and an extend against its end (delete or expiry), then, once it is
    // over, try both again: a session that is gone must stay gone.
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, r) = (store.clone(), connection.clone());
            tokio::spawn(async move {
                let mut lost_races = 0;
                for n in (writer..SESSIONS).step_by(WRITERS) {
                    let id = store.create(minimal("racer")).await.unwrap().id;
                    let killer = {
                        let (store, id, mut r) = (store.clone(), id.clone(), r.clone());
                        tokio::spawn(async move { end_session(&store, &mut r, &id, n).await })
                    };
                    for _ in 0..3 {
                        let rename = SessionUpdate { name: Some("alive?".into()), ..SessionUpdate::default() };
                        match store.update(&id, rename).await {
                            Ok(_) => {}
                            Err(Error::NotFound(_)) => lost_races += 1,
                            Err(other) => panic!("update: {other:?}"),
                        }
                        if !store.extend_ttl(&id).await.unwrap() {
                            lost_races += 1;
                        }
                    }
                    killer.await.unwrap();
                    let rename = SessionUpdate { name: Some("back?".into()), ..SessionUpdate::default() };
                    assert_eq!(store.update(&id, rename).await, Err(Error::NotFound(id.clone())));
                    assert_eq!(store.extend_ttl(&id).await, Ok(false), "extend of an ended session");
                }
                lost_races
            })
        })
        .collect();
    let mut lost_races = 0;
    for writer in writers {
        lost_races += writer.await.unwrap();
    }

    let expiry_keys = redis.keys("session_expiry:*");
    assert!(expiry_keys.is_empty(), "sessions came back to life: {expiry_keys:?}");
    assert_eq!(store.list(10, 0).await.unwrap().sessions.len(), 0);
    eprintln!(
        "resurrection: {SESSIONS} sessions raced (update + extend against delete or expiry), \
         {lost_races} writes found the session gone, 0 resurrected"
    );
    redis.assert_no_violations(&store).await;
    let keys: Vec<String> = redis.keys("*").into_iter().filter(|key| key != "session_layout").collect();
    assert!(keys.is_empty(), "after cleanup nothing remains: {} keys", keys.len());
}

async fn cleanup_from_three_processes_removes_each_expired_session_once(redis: Deployment) {
    const EXPIRED: usize = 600;
    const LIVE: usize = 200;
    let store = redis.store().await;

    let mut expired = Vec::new();
    for _ in 0..EXPIRED {
        expired.push(store.create(minimal("expires")).await.unwrap().id);
    }
    let mut live = Vec::new();
    for _ in 0..LIVE {
        live.push(store.create(minimal("lives")).await.unwrap().id);
    }
    // Their TTL runs out now: Redis drops the expiry keys, the hashes wait
    // for cleanup.
    redis.expire(&store, &expired);
    for id in &expired {
        assert_eq!(store.get(id).await, Err(Error::NotFound(id.clone())));
    }

    // Three cleaners, while other tasks extend live sessions and create new ones.
    let cleaners: Vec<_> = (0..3).map(|_| worker(&["cleanup", &redis.url(), "", "3"])).collect();
    let churn: Vec<_> = (0..4)
        .map(|task| {
            let (store, live) = (store.clone(), live.clone());
            tokio::spawn(async move {
                let mut created = Vec::new();
                for (n, id) in live.iter().enumerate().filter(|(n, _)| n % 4 == task) {
                    assert_eq!(store.extend_ttl(id).await, Ok(true), "live session {id} was removed");
                    if n.is_multiple_of(2) {
                        created.push(store.create(minimal("new")).await.unwrap().id);
                    }
                }
                created
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in churn {
        created.extend(task.await.unwrap());
    }
    let removed: u64 = cleaners.into_iter().map(|c| worker_result(c)["removed"].as_u64().unwrap()).sum();

    assert_eq!(removed, EXPIRED as u64, "each expired session counted by exactly one cleaner");
    for id in live.iter().chain(&created) {
        assert!(store.get(id).await.is_ok(), "live session {id} was touched");
    }
    assert_eq!(store.cleanup_expired().await.map(|r| r.removed), Ok(0), "nothing expired is left");
    let remaining: HashSet<String> = store.list(1000, 0).await.unwrap().sessions.into_iter().map(|s| s.id).collect();
    assert_eq!(remaining.len(), LIVE + created.len());
    eprintln!(
        "cleanup: 3 processes removed {removed} of {EXPIRED} expired sessions next to {} live ones",
        remaining.len()
    );
    redis.assert_no_violations(&store).await;
}
