//! Storage damaged by hand or by another service: every read names the key
//! and field, a page keeps its healthy sessions, and cleanup removes what is
//! expired, leaves what it cannot judge, and says so.

use agent_sessions_host::{Error, SessionStore};
use agent_sessions_tests::{RedisServer, example};
use redis::Commands;

/// How to damage one session, and which key and field `get` must then name.
struct Damage {
    what: &'static str,
    apply: fn(&mut redis::Connection, &str),
    key: fn(&str) -> String,
    field: &'static str,
}

fn damages() -> Vec<Damage> {
    let data = |id: &str| format!("session:{id}:data");
    let meta = |id: &str| format!("session:{id}:meta");
    vec![
        Damage {
            what: "data hash of the wrong type",
            apply: |r, id| {
                let _: () = r.del(format!("session:{id}:data")).unwrap();
                let _: () = r.set(format!("session:{id}:data"), "oops").unwrap();
            },
            key: data,
            field: "",
        },
        Damage {
            what: "unparsable number",
            apply: |r, id| {
                let _: () = r.hset(format!("session:{id}:data"), "max_tokens", "2k").unwrap();
            },
            key: data,
            field: "max_tokens",
        },
        Damage {
            what: "tools that are not JSON",
            apply: |r, id| {
                let _: () = r.hset(format!("session:{id}:data"), "tools", "search, code").unwrap();
            },
            key: data,
            field: "tools",
        },
        Damage {
            what: "garbage timestamp",
            apply: |r, id| {
                let _: () = r.hset(format!("session:{id}:meta"), "updated_at", "last tuesday").unwrap();
            },
            key: meta,
            field: "updated_at",
        },
        Damage {
            what: "missing field",
            apply: |r, id| {
                let _: () = r.hdel(format!("session:{id}:meta"), "status").unwrap();
            },
            key: meta,
            field: "status",
        },
        Damage {
            what: "data hash without meta",
            apply: |r, id| {
                let _: () = r.del(format!("session:{id}:meta")).unwrap();
            },
            key: meta,
            field: "",
        },
    ]
}

#[tokio::test]
async fn damaged_sessions_are_named_and_healthy_ones_still_served() {
    let redis = RedisServer::start();
    let store = SessionStore::connect(&redis.url()).await.unwrap();
    let mut r = redis.connection();
    let healthy = store.create(example()).await.unwrap().id;
    let mut damaged = Vec::new();
    for damage in damages() {
        let id = store.create(example()).await.unwrap().id;
        (damage.apply)(&mut r, &id);
        match store.get(&id).await {
            Err(Error::DataCorrupt(c)) => {
                assert_eq!(c.session_id, id, "{}", damage.what);
                assert_eq!(c.key, (damage.key)(&id), "{}", damage.what);
                assert_eq!(c.field, damage.field, "{}: {}", damage.what, c.message);
            }
            other => panic!("{}: expected data-corrupt, got {other:?}", damage.what),
        }
        damaged.push(id);
    }
    // Index members that are not session ids.
    let _: () = r.zadd("session_index", "not a session", 1).unwrap();
    let _: () = r.sadd("active_sessions", "not a session").unwrap();

    let page = store.list(100, 0).await.unwrap();
    assert_eq!(page.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec![healthy.as_str()]);
    let mut reported: Vec<&str> = page.corrupt.iter().map(|c| c.session_id.as_str()).collect();
    reported.sort();
    let mut expected: Vec<&str> = damaged.iter().map(String::as_str).chain(["not a session"]).collect();
    expected.sort();
    assert_eq!(reported, expected, "every damaged entry of the page is reported");

    // Expire the healthy session and two damaged ones; cleanup removes
    // those three, leaves the damaged live ones, and reports the members it
    // cannot judge.
    for id in [&healthy, &damaged[1], &damaged[5]] {
        let _: () = r.del(format!("session_expiry:{id}")).unwrap();
    }
    let report = store.cleanup_expired().await.unwrap();
    assert_eq!(report.removed, 3);
    assert_eq!(report.skipped, 2, "{:?}", report.problems);
    let keys: Vec<&str> = report.problems.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["active_sessions", "session_index"]);
    assert!(report.problems.iter().all(|c| c.field == "not a session" && c.message.contains("left in place")));
    for id in [&damaged[0], &damaged[2], &damaged[3], &damaged[4]] {
        assert!(matches!(store.get(id).await, Err(Error::DataCorrupt(_))), "live damaged session {id} left alone");
    }
    let leftovers: Vec<String> = r.keys(format!("session:{}:*", damaged[1])).unwrap();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn cleanup_reports_a_set_of_the_wrong_type_and_still_sweeps_the_index() {
    let redis = RedisServer::start();
    let store = SessionStore::connect(&redis.url()).await.unwrap();
    let mut r = redis.connection();
    let id = store.create(example()).await.unwrap().id;
    let _: () = r.del(format!("session_expiry:{id}")).unwrap();
    let _: () = r.del("active_sessions").unwrap();
    let _: () = r.set("active_sessions", "not a set").unwrap();
    let report = store.cleanup_expired().await.unwrap();
    assert_eq!(report.removed, 1, "found through the index");
    assert_eq!(report.skipped, 1);
    assert_eq!(report.problems[0].key, "active_sessions");

    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_session-worker"))
        .args(["cleanup", &redis.url(), "", "1"])
        .output()
        .unwrap();
    assert!(cli.status.success());
}
