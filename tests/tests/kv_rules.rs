//! The batch rules live twice by design: in `redis/kv_batch.lua`'s
//! pre-write pass and in `guest/src/kv/rules.rs`, which the in-memory
//! backend runs. This test sends the same batches, and hand-packed batches
//! no guest would send, to both backends (with a key prefix) and requires
//! the same answer, word for word, so the two cannot drift.

use agent_sessions_guest::kv::rules::MAX_TTL_MS;
use agent_sessions_guest::kv::{Batch, KeyScanRequest, Op, Reply, ScanRequest, ScoreBound};
use agent_sessions_host::kv::KvStore;
use agent_sessions_host::kv::{Backend, memory::MemoryBackend, redis::RedisBackend};
use agent_sessions_host::{RedisOptions, SessionStore};
use agent_sessions_tests::RedisServer;

fn bad_batches() -> Vec<(&'static str, Batch)> {
    let one = |op: Op| Batch::new().op(op);
    let many: Vec<String> = (0..=1000).map(|n| n.to_string()).collect();
    vec![
        ("empty hset", one(Op::HashSet { key: "h".into(), fields: vec![] })),
        ("empty hmget", one(Op::HashGetFields { key: "h".into(), fields: vec![] })),
        ("empty sadd", one(Op::SetAdd { key: "s".into(), members: vec![] })),
        ("too many members", one(Op::SetRemove { key: "s".into(), members: many })),
        ("zero TTL", one(Op::Expire { key: "k".into(), ttl_ms: 0 })),
        (
            "TTL over 100 years",
            one(Op::StringSet { key: "k".into(), value: String::new(), ttl_ms: Some(MAX_TTL_MS + 1) }),
        ),
        ("infinite score", one(Op::SortedAdd { key: "z".into(), members: vec![(f64::INFINITY, "m".into())] })),
        ("NaN score", one(Op::SortedAdd { key: "z".into(), members: vec![(f64::NAN, "m".into())] })),
        ("scan count 0", one(Op::SortedScan(ScanRequest { key: "z".into(), cursor: "0".into(), count: 0 }))),
        (
            "score range count 0",
            one(Op::SortedRangeByScoreDesc {
                key: "z".into(),
                max: ScoreBound::inclusive(f64::INFINITY),
                min: ScoreBound::inclusive(f64::NEG_INFINITY),
                limit: Some((0, 0)),
            }),
        ),
        (
            "empty key-scan pattern",
            one(Op::KeyScan(KeyScanRequest { pattern: String::new(), cursor: "0".into(), count: 10 })),
        ),
        (
            "a key as two types",
            Batch::new()
                .op(Op::StringSet { key: "k".into(), value: String::new(), ttl_ms: None })
                .op(Op::HashGetAll("k".into())),
        ),
    ]
}

/// Packed batches a guest would never send.
const MALFORMED: [(&str, &str, &str); 9] = [
    ("not JSON", "k", "[[],"),
    ("not [conditions, ops]", "k", "{}"),
    ("key number out of range", "k", r#"[[],[["exists",2]]]"#),
    ("unknown op", "k", r#"[[],[["frobnicate",1]]]"#),
    ("op without a key", "k", r#"[[],[["exists",0]]]"#),
    ("unknown condition", "k", r#"[[["maybe",1]],[]]"#),
    ("score bound not a number", "z", r#"[[],[["zrevrangebyscore",1,"ten","0"]]]"#),
    ("score range with 3 args", "z", r#"[[],[["zrevrangebyscore",1,"10","0","5"]]]"#),
    ("score range count not a count", "z", r#"[[],[["zrevrangebyscore",1,"10","0","0","-1"]]]"#),
];

/// The same prefix over Redis and over memory.
async fn both_backends(redis: &RedisServer) -> (KvStore, KvStore) {
    let prefix = "app:";
    let on_redis = KvStore::new(
        Backend::Redis(RedisBackend::connect(&redis.url(), RedisOptions::default()).await.unwrap()),
        prefix,
    );
    (on_redis, KvStore::new(Backend::Memory(MemoryBackend::new()), prefix))
}

#[tokio::test]
async fn both_backends_refuse_the_same_batches_with_the_same_words() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    for (what, batch) in bad_batches() {
        let from_redis = on_redis.execute(&batch).await;
        let from_memory = in_memory.execute(&batch).await;
        assert!(from_redis.is_err(), "{what}: Redis accepted it");
        assert_eq!(from_redis, from_memory, "{what}");
    }
    for (what, keys, packed) in MALFORMED {
        let from_redis = on_redis.execute_packed(keys, packed).await.unwrap();
        let from_memory = in_memory.execute_packed(keys, packed).await.unwrap();
        assert!(from_redis.starts_with("[4,"), "{what}: {from_redis}");
        assert!(from_memory.starts_with("[4,"), "{what}: {from_memory}");
        if what.starts_with("score") {
            assert_eq!(from_redis, from_memory, "{what}");
        }
    }
    let mut connection = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert!(keys.is_empty(), "refused batches wrote nothing: {keys:?}");
    // A store built the ordinary way sees the same: the rules sit below it.
    let store = SessionStore::builder().redis(redis.url()).build().await.unwrap();
    assert!(store.kv().execute(&bad_batches()[0].1).await.is_err());
}

#[tokio::test]
async fn wrong_types_name_the_key_without_the_prefix_on_both_backends() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let make_set = Batch::new().op(Op::SetAdd { key: "k".into(), members: vec!["m".into()] });
    let read_hash = Batch::new().op(Op::HashGetAll("k".into()));
    for store in [&on_redis, &in_memory] {
        store.execute(&make_set).await.unwrap();
    }
    // A batch that only reads (the script runs it with pcall) and one that
    // writes (the script checks types before its first write).
    let write_hash = Batch::new()
        .op(Op::StringSet { key: "other".into(), value: String::new(), ttl_ms: None })
        .op(Op::HashSet { key: "k".into(), fields: vec![("f".into(), "v".into())] });
    let scan_set_as_zset =
        Batch::new().op(Op::SortedScan(ScanRequest { key: "k".into(), cursor: "0".into(), count: 5 }));
    for batch in [read_hash, write_hash, scan_set_as_zset] {
        let from_redis = on_redis.execute(&batch).await.unwrap_err();
        let from_memory = in_memory.execute(&batch).await.unwrap_err();
        assert_eq!(from_redis, from_memory, "{batch:?}");
        assert_eq!(from_redis.key, "k");
    }
    let mut connection = redis.connection();
    let other: bool = redis::cmd("EXISTS").arg("app:other").query(&mut connection).unwrap();
    assert!(!other, "a batch that meets a wrong type writes nothing");
}

/// Rank and score ranges (the index reads of `list`) give the same members,
/// scores and order on both backends: ties at one score ordered by member,
/// descending; exclusive bounds; LIMIT offset and count.
#[tokio::test]
async fn sorted_ranges_agree_on_both_backends() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let members = vec![
        (1000.0, "a".to_owned()),
        (2000.0, "b".into()),
        (2000.0, "d".into()),
        (2000.0, "c".into()),
        (3000.5, "e".into()),
    ];
    let write = Batch::new().op(Op::SortedAdd { key: "z".into(), members });
    on_redis.execute(&write).await.unwrap();
    in_memory.execute(&write).await.unwrap();
    let range =
        |max: ScoreBound, min: ScoreBound, limit| Op::SortedRangeByScoreDesc { key: "z".into(), max, min, limit };
    let (inf, neg_inf) = (ScoreBound::inclusive(f64::INFINITY), ScoreBound::inclusive(f64::NEG_INFINITY));
    let reads = Batch::new()
        .op(Op::SortedRangeDesc { key: "z".into(), start: 1, stop: 3 })
        .op(range(inf, neg_inf, None))
        .op(range(ScoreBound::inclusive(2000.0), ScoreBound::inclusive(2000.0), Some((1, 5))))
        .op(range(ScoreBound::exclusive(2000.0), neg_inf, Some((0, 10))))
        .op(range(ScoreBound::exclusive(3000.5), ScoreBound::exclusive(1000.0), None));
    let from_redis = on_redis.execute(&reads).await.unwrap();
    let from_memory = in_memory.execute(&reads).await.unwrap();
    assert_eq!(from_redis, from_memory);
    let agent_sessions_guest::kv::BatchOutcome::Applied(replies) = from_redis else { panic!("{from_redis:?}") };
    let scored = |reply: &Reply| match reply {
        Reply::Scored(members) => members.iter().map(|(m, s)| format!("{m}@{s}")).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(scored(&replies[0]), ["d@2000", "c@2000", "b@2000"]);
    assert_eq!(scored(&replies[1]), ["e@3000.5", "d@2000", "c@2000", "b@2000", "a@1000"]);
    assert_eq!(scored(&replies[2]), ["c@2000", "b@2000"]);
    assert_eq!(scored(&replies[3]), ["a@1000"]);
    assert_eq!(scored(&replies[4]), ["d@2000", "c@2000", "b@2000"]);
}
