//! The batch rules live twice by design: in `redis/kv_batch.lua`'s
//! pre-write pass and in the kv crate's unpacker and `rules.rs`, which the
//! in-memory backend runs (both follow the op table of `kv/src/table.rs`). This test sends the same batches, and hand-packed batches
//! no guest would send, to both backends (with a key prefix) and requires
//! the same answer, word for word, so the two cannot drift.

use agent_sessions_guest::kv::rules::MAX_TTL_MS;
use agent_sessions_guest::kv::table::{Arg, Args, KeyUse, OPS};
use agent_sessions_guest::kv::{
    Batch, BatchOutcome, Condition, KeyScanRequest, KvError, Op, Reply, ScanRequest, ScoreBound,
};
use agent_sessions_host::kv::KvStore;
use agent_sessions_host::kv::{Backend, memory::MemoryBackend, redis::RedisBackend};
use agent_sessions_host::{RedisOptions, SessionStore};
use agent_sessions_tests::RedisServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

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
        ("empty rpush", one(Op::ListPush { key: "l".into(), values: vec![] })),
        ("empty hdel", one(Op::HashDelete { key: "h".into(), fields: vec![] })),
        ("too many values", one(Op::ListPush { key: "l".into(), values: (0..=1000).map(|n| n.to_string()).collect() })),
        (
            "too many fields",
            one(Op::HashDelete { key: "h".into(), fields: (0..=1000).map(|n| n.to_string()).collect() }),
        ),
        ("no byte budget", one(Op::ListRangeTail { key: "l".into(), start: 0, stop: -1, max_bytes: 0 })),
        (
            "a list as a hash",
            Batch::new()
                .op(Op::ListPush { key: "k".into(), values: vec!["v".into()] })
                .op(Op::HashDelete { key: "k".into(), fields: vec!["f".into()] }),
        ),
        (
            "a set as a list",
            Batch::new().op(Op::SetSize("k".into())).op(Op::ListTrim { key: "k".into(), start: 0, stop: -1 }),
        ),
    ]
}

/// Hand-packed list batches that both backends refuse in the same words:
/// list indexes in any but Redis' plain form (which Redis itself would fail
/// on halfway through a batch), counts that are not counts, wrong arities.
const MALFORMED_LISTS: [(&str, &str, &str); 15] = [
    ("index with a plus", "l", r#"[0,[],[["lrange",1,"+1","-1","10"]]]"#),
    ("index with a leading zero", "l", r#"[0,[],[["lrange",1,"0","01","10"]]]"#),
    ("minus zero", "l", r#"[1,[],[["ltrim",1,"-0","-1"]]]"#),
    ("index with a fraction", "l", r#"[1,[],[["ltrim",1,"0","1.5"]]]"#),
    ("index beyond 64 bits", "l", r#"[1,[],[["ltrim",1,"9223372036854775808","-1"]]]"#),
    ("index below 64 bits", "l", r#"[0,[],[["lrange",1,"-9223372036854775809","-1","10"]]]"#),
    ("empty index", "l", r#"[0,[],[["lrange",1,"","-1","10"]]]"#),
    ("negative byte budget", "l", r#"[0,[],[["lrange",1,"0","-1","-1"]]]"#),
    ("byte budget not a number", "l", r#"[0,[],[["lrange",1,"0","-1","lots"]]]"#),
    ("lrange with 2 args", "l", r#"[0,[],[["lrange",1,"0","-1"]]]"#),
    ("ltrim with 3 args", "l", r#"[1,[],[["ltrim",1,"0","-1","5"]]]"#),
    ("rpop with an arg", "l", r#"[1,[],[["rpop",1,"2"]]]"#),
    ("llen with an arg", "l", r#"[0,[],[["llen",1,"x"]]]"#),
    ("negative length", "l", r#"[0,[["llen_between",1,"-1","5"]],[]]"#),
    ("length condition with 1 arg", "l", r#"[0,[["llen_between",1,"5"]],[]]"#),
];

/// Packed batches a guest would never send.
const MALFORMED: [(&str, &str, &str); 11] = [
    ("not JSON", "k", "[[],"),
    ("not [writes, conditions, ops]", "k", "{}"),
    ("without its write flag", "k", r#"[[],[["exists",1]]]"#),
    ("a write flag of 2", "k", r#"[2,[],[["exists",1]]]"#),
    ("key number out of range", "k", r#"[0,[],[["exists",2]]]"#),
    ("unknown op", "k", r#"[0,[],[["frobnicate",1]]]"#),
    ("op without a key", "k", r#"[0,[],[["exists",0]]]"#),
    ("unknown condition", "k", r#"[0,[["maybe",1]],[]]"#),
    ("score bound not a number", "z", r#"[0,[],[["zrevrangebyscore",1,"ten","0"]]]"#),
    ("score range with 3 args", "z", r#"[0,[],[["zrevrangebyscore",1,"10","0","5"]]]"#),
    ("score range count not a count", "z", r#"[0,[],[["zrevrangebyscore",1,"10","0","0","-1"]]]"#),
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
    for (what, keys, packed) in MALFORMED_LISTS {
        let from_redis = on_redis.execute_packed(keys, packed).await.unwrap();
        let from_memory = in_memory.execute_packed(keys, packed).await.unwrap();
        assert!(from_redis.starts_with("[4,"), "{what}: {from_redis}");
        assert_eq!(from_redis, from_memory, "{what}");
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

/// Runs `batch` on both backends and requires the same outcome.
async fn same_on_both(on_redis: &KvStore, in_memory: &KvStore, batch: &Batch) -> Result<BatchOutcome, KvError> {
    let from_redis = on_redis.execute(batch).await;
    let from_memory = in_memory.execute(batch).await;
    assert_eq!(from_redis, from_memory, "{batch:?}");
    from_redis
}

fn applied(outcome: Result<BatchOutcome, KvError>) -> Vec<Reply> {
    match outcome {
        Ok(BatchOutcome::Applied(replies)) => replies,
        other => panic!("not applied: {other:?}"),
    }
}

fn tail(left_out: u64, items: &[&str]) -> Reply {
    Reply::ListTail { left_out, items: items.iter().map(|item| (*item).to_owned()).collect() }
}

fn range(start: i64, stop: i64, max_bytes: u64) -> Op {
    Op::ListRangeTail { key: "l".into(), start, stop, max_bytes }
}

/// RPUSH, LRANGE with a byte budget, RPOP, LTRIM, LLEN and HDEL give the
/// same replies on both backends, and a list or hash whose last item goes
/// is deleted on both.
#[tokio::test]
async fn list_ops_agree_on_both_backends() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let both = |batch: Batch| {
        let (on_redis, in_memory) = (&on_redis, &in_memory);
        async move { applied(same_on_both(on_redis, in_memory, &batch).await) }
    };
    let push = |values: &[&str]| Op::ListPush { key: "l".into(), values: values.iter().map(|v| (*v).into()).collect() };

    // Lengths in bytes: 1, 2, 3, and "é€" is 5 (2 + 3), "" is 0.
    let pushed =
        both(Batch::new().op(push(&["a", "bb", "ccc"])).op(push(&["é€", ""])).op(Op::ListLength("l".into()))).await;
    assert_eq!(pushed, [Reply::Integer(3), Reply::Integer(5), Reply::Integer(5)]);
    let ranges = both(
        Batch::new()
            .op(range(0, -1, 1_000))
            .op(range(0, -1, 5))
            .op(range(0, -1, 4))
            .op(range(0, 2, 1))
            .op(range(-2, -1, 100))
            .op(range(1, 3, 8))
            .op(range(5, 10, 100))
            .op(range(3, 1, 100))
            .op(range(-100, 100, 100))
            .op(range(i64::MIN, i64::MAX, u64::MAX))
            .op(range(-1, -1, 1))
            .op(Op::ListRangeTail { key: "missing".into(), start: 0, stop: -1, max_bytes: 10 }),
    )
    .await;
    assert_eq!(
        ranges,
        [
            tail(0, &["a", "bb", "ccc", "é€", ""]),
            tail(3, &["é€", ""]),
            // The newest item alone is over the budget: it comes anyway.
            tail(4, &[""]),
            tail(2, &["ccc"]),
            tail(0, &["é€", ""]),
            tail(1, &["ccc", "é€"]),
            tail(0, &[]),
            tail(0, &[]),
            tail(0, &["a", "bb", "ccc", "é€", ""]),
            tail(0, &["a", "bb", "ccc", "é€", ""]),
            tail(0, &[""]),
            tail(0, &[]),
        ]
    );
    let popped = both(
        Batch::new()
            .op(Op::ListPopLast("l".into()))
            .op(Op::ListPopLast("l".into()))
            .op(Op::ListPopLast("missing".into()))
            .op(Op::ListLength("l".into()))
            .op(Op::ListLength("missing".into())),
    )
    .await;
    assert_eq!(
        popped,
        [
            Reply::Text(Some(String::new())),
            Reply::Text(Some("é€".into())),
            Reply::Text(None),
            Reply::Integer(3),
            Reply::Integer(0)
        ]
    );
    let trimmed = both(
        Batch::new()
            .op(push(&["d", "e"]))
            .op(Op::ListTrim { key: "l".into(), start: -4, stop: -2 })
            .op(range(0, -1, 100))
            .op(Op::ListTrim { key: "l".into(), start: 1, stop: 100 })
            .op(range(0, -1, 100))
            .op(Op::ListTrim { key: "missing".into(), start: 0, stop: -1 })
            .op(Op::Exists("missing".into())),
    )
    .await;
    assert_eq!(
        trimmed,
        [
            Reply::Integer(5),
            Reply::Integer(1),
            tail(0, &["bb", "ccc", "d"]),
            Reply::Integer(1),
            tail(0, &["ccc", "d"]),
            Reply::Integer(1),
            Reply::Integer(0)
        ]
    );
    // A trim to nothing and the last pop both delete the list.
    let emptied = both(
        Batch::new()
            .op(Op::ListTrim { key: "l".into(), start: 5, stop: 1 })
            .op(Op::Exists("l".into()))
            .op(push(&["x"]))
            .op(Op::ListPopLast("l".into()))
            .op(Op::Exists("l".into()))
            .op(Op::ListTrim { key: "l".into(), start: 0, stop: -1 }),
    )
    .await;
    assert_eq!(
        emptied,
        [
            Reply::Integer(1),
            Reply::Integer(0),
            Reply::Integer(1),
            Reply::Text(Some("x".into())),
            Reply::Integer(0),
            Reply::Integer(1)
        ]
    );
    let fields = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let hash = both(
        Batch::new()
            .op(Op::HashSet {
                key: "h".into(),
                fields: vec![("f1".into(), "1".into()), ("f2".into(), "2".into()), ("f3".into(), "3".into())],
            })
            .op(Op::HashDelete { key: "h".into(), fields: fields(&["f1", "nope", "f1"]) })
            .op(Op::HashDelete { key: "missing".into(), fields: fields(&["f1"]) })
            .op(Op::HashGetAll("h".into()))
            .op(Op::HashDelete { key: "h".into(), fields: fields(&["f2", "f3"]) })
            .op(Op::Exists("h".into())),
    )
    .await;
    assert_eq!(
        hash,
        [
            Reply::Integer(3),
            Reply::Integer(1),
            Reply::Integer(0),
            Reply::Fields(vec![("f2".into(), "2".into()), ("f3".into(), "3".into())]),
            Reply::Integer(2),
            Reply::Integer(0)
        ]
    );
    let mut connection = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert!(keys.is_empty(), "emptied lists and hashes are deleted: {keys:?}");
    assert!(in_memory.execute(&Batch::new().op(Op::Exists("l".into()))).await.is_ok());
    let Backend::Memory(memory) = in_memory.backend() else { unreachable!() };
    assert_eq!(memory.keys(), Vec::<String>::new(), "emptied lists and hashes are deleted in memory too");
}

/// `llen_between` holds from min to max, counts a missing key as 0, gives
/// the length as text when it fails, and fails with no value on a key of
/// another type, as the field conditions do; on both backends.
#[tokio::test]
async fn list_length_conditions_agree_on_both_backends() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let setup = Batch::new()
        .op(Op::ListPush { key: "l".into(), values: vec!["a".into(), "b".into(), "c".into()] })
        .op(Op::HashSet { key: "h".into(), fields: vec![("f".into(), "v".into())] })
        .op(Op::StringSet { key: "s".into(), value: String::new(), ttl_ms: None });
    same_on_both(&on_redis, &in_memory, &setup).await.unwrap();
    let length = |key: &str, min, max| Condition::ListLength { key: key.into(), min, max };
    let guarded = |condition: Condition| {
        Batch::new()
            .condition(length("l", 0, 10))
            .condition(condition)
            .op(Op::ListPush { key: "l".into(), values: vec!["d".into()] })
    };
    let failed =
        |actual: Option<&str>| Ok(BatchOutcome::ConditionFailed { index: 1, actual: actual.map(str::to_owned) });
    for (condition, expected) in [
        (length("l", 4, 10), failed(Some("3"))),
        (length("l", 0, 2), failed(Some("3"))),
        (length("missing", 1, u64::MAX), failed(Some("0"))),
        (length("h", 0, u64::MAX), failed(None)),
        (length("s", 0, u64::MAX), failed(None)),
        (length("l", 5, 4), failed(Some("3"))),
        // The field conditions on a list key, for comparison.
        (Condition::FieldMissing { key: "l".into(), field: "f".into() }, failed(None)),
        (Condition::FieldEquals { key: "l".into(), field: "f".into(), value: "v".into() }, failed(None)),
    ] {
        let outcome = same_on_both(&on_redis, &in_memory, &guarded(condition.clone())).await;
        assert_eq!(outcome, expected, "{condition:?}");
    }
    for condition in [length("l", 3, 3), length("l", 0, u64::MAX), length("missing", 0, 0)] {
        let outcome = same_on_both(&on_redis, &in_memory, &guarded(condition.clone())).await;
        assert!(matches!(outcome, Ok(BatchOutcome::Applied(_))), "{condition:?}: {outcome:?}");
    }
    let read = Batch::new().op(Op::ListLength("l".into()));
    assert_eq!(applied(same_on_both(&on_redis, &in_memory, &read).await), [Reply::Integer(6)]);
}

/// A list key met by a hash, set, sorted-set or string op (and a list op
/// meeting another type), in a batch that only reads and in one that
/// writes: the same WRONGTYPE answer naming the key, and nothing written.
#[tokio::test]
async fn wrong_types_on_list_keys_agree_on_both_backends() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let setup = Batch::new()
        .op(Op::ListPush { key: "l".into(), values: vec!["a".into()] })
        .op(Op::HashSet { key: "h".into(), fields: vec![("f".into(), "v".into())] })
        .op(Op::SortedAdd { key: "z".into(), members: vec![(1.0, "m".into())] });
    same_on_both(&on_redis, &in_memory, &setup).await.unwrap();
    let write_first = || Op::StringSet { key: "other".into(), value: String::new(), ttl_ms: None };
    let cases: Vec<(&str, Batch)> = vec![
        ("l", Batch::new().op(Op::HashGetAll("l".into()))),
        ("l", Batch::new().op(Op::SetSize("l".into()))),
        ("l", Batch::new().op(Op::SortedRangeDesc { key: "l".into(), start: 0, stop: 1 })),
        ("l", Batch::new().op(write_first()).op(Op::HashDelete { key: "l".into(), fields: vec!["f".into()] })),
        ("l", Batch::new().op(write_first()).op(Op::SetAdd { key: "l".into(), members: vec!["m".into()] })),
        (
            "h",
            Batch::new().op(range(0, -1, 10)).op(Op::ListRangeTail {
                key: "h".into(),
                start: 0,
                stop: -1,
                max_bytes: 10,
            }),
        ),
        ("h", Batch::new().op(Op::ListLength("h".into()))),
        ("z", Batch::new().op(Op::ListLength("l".into())).op(Op::ListLength("z".into()))),
        ("h", Batch::new().op(write_first()).op(Op::ListPush { key: "h".into(), values: vec!["v".into()] })),
        ("z", Batch::new().op(write_first()).op(Op::ListPopLast("z".into()))),
        (
            "h",
            Batch::new().op(Op::ListPush { key: "l".into(), values: vec!["b".into()] }).op(Op::ListTrim {
                key: "h".into(),
                start: 0,
                stop: -1,
            }),
        ),
    ];
    for (key, batch) in cases {
        let from_redis = on_redis.execute(&batch).await.unwrap_err();
        let from_memory = in_memory.execute(&batch).await.unwrap_err();
        assert_eq!(from_redis, from_memory, "{batch:?}");
        assert_eq!(from_redis.key, key, "{batch:?}");
    }
    let check = Batch::new().op(Op::Exists("other".into())).op(range(0, -1, 100));
    assert_eq!(applied(same_on_both(&on_redis, &in_memory, &check).await), [Reply::Integer(0), tail(0, &["a"])]);
}

/// One step of a random list batch.
#[derive(Debug, Clone)]
enum ListStep {
    Push(Vec<String>),
    Range(i64, i64, u64),
    Pop,
    Trim(i64, i64),
    Length,
    Delete,
}

fn list_index() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -7i64..7, 1 => Just(i64::MIN), 1 => Just(i64::MAX)]
}

fn list_step() -> impl Strategy<Value = ListStep> {
    let value = prop_oneof![3 => "[a-c]{0,4}", 1 => "[é€😀x]{1,3}"];
    prop_oneof![
        3 => prop::collection::vec(value, 1..5).prop_map(ListStep::Push),
        3 => (list_index(), list_index(), prop_oneof![1u64..12, Just(u64::MAX)]).prop_map(|(a, b, m)| ListStep::Range(a, b, m)),
        2 => Just(ListStep::Pop),
        2 => (list_index(), list_index()).prop_map(|(a, b)| ListStep::Trim(a, b)),
        1 => Just(ListStep::Length),
        1 => Just(ListStep::Delete),
    ]
}

/// Random batches of list ops, guarded now and then by a length condition,
/// give the same outcome on both backends, step after step.
#[test]
fn random_list_batches_agree_on_both_backends() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let redis = RedisServer::start();
    let connection = rt.block_on(RedisBackend::connect(&redis.url(), RedisOptions::default())).unwrap();
    let case = std::sync::atomic::AtomicU64::new(0);
    let batch = (prop::option::of((0u64..6, 0u64..8)), prop::collection::vec(list_step(), 1..6));
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    runner
        .run(&prop::collection::vec(batch, 1..12), |batches| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let on_redis = KvStore::new(Backend::Redis(connection.clone()), format!("case{case}:"));
            let in_memory = KvStore::new(Backend::Memory(MemoryBackend::new()), format!("case{case}:"));
            for (guard, steps) in batches {
                let mut batch = Batch::new();
                if let Some((min, max)) = guard {
                    batch = batch.condition(Condition::ListLength { key: "l".into(), min, max });
                }
                for step in steps {
                    batch = batch.op(match step {
                        ListStep::Push(values) => Op::ListPush { key: "l".into(), values },
                        ListStep::Range(start, stop, max_bytes) => range(start, stop, max_bytes),
                        ListStep::Pop => Op::ListPopLast("l".into()),
                        ListStep::Trim(start, stop) => Op::ListTrim { key: "l".into(), start, stop },
                        ListStep::Length => Op::ListLength("l".into()),
                        ListStep::Delete => Op::Delete("l".into()),
                    });
                }
                let from_redis = rt.block_on(on_redis.execute(&batch));
                let from_memory = rt.block_on(in_memory.execute(&batch));
                prop_assert_eq!(&from_redis, &from_memory, "{:?}", batch);
                prop_assert!(from_redis.is_ok(), "{:?}", from_redis);
            }
            Ok(())
        })
        .unwrap();
}

/// Whether a batch writes is said once, by the packed batch's flag (which
/// the guest's packer sets from the op table and a host reads to decide on
/// WAIT); both backends refuse a flag that is not what the ops say, in the
/// same words, and write nothing.
#[tokio::test]
async fn both_backends_refuse_a_write_flag_that_is_not_what_the_ops_say() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    for (packed, message) in [
        (r#"[0,[],[["del",1]]]"#, "the batch's write flag is 0 but its ops write"),
        (r#"[0,[],[["exists",1],["ltrim",1,"0","-1"]]]"#, "the batch's write flag is 0 but its ops write"),
        (r#"[1,[],[["exists",1]]]"#, "the batch's write flag is 1 but its ops only read"),
        (r#"[1,[["exists",1]],[]]"#, "the batch's write flag is 1 but its ops only read"),
    ] {
        let from_redis = on_redis.execute_packed("k", packed).await.unwrap();
        let from_memory = in_memory.execute_packed("k", packed).await.unwrap();
        assert_eq!(from_redis, from_memory, "{packed}");
        assert_eq!(from_redis, serde_json::json!([4, message]).to_string(), "{packed}");
    }
    let mut connection = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).unwrap();
    assert!(keys.is_empty(), "refused batches wrote nothing: {keys:?}");
}

/// Every op of the table, given an argument too many and, in turn, each
/// argument of a checked kind as a text of no kind, is refused by both
/// backends in the same words: the script checks arguments by the same
/// table (its generated `ARGS`) as the unpacker does.
#[tokio::test]
async fn both_backends_check_every_ops_arguments_by_the_table() {
    let redis = RedisServer::start();
    let (on_redis, in_memory) = both_backends(&redis).await;
    let sample = |arg: &Arg| match arg {
        Arg::Text => "0",
        Arg::Integer | Arg::Count | Arg::Score | Arg::ScoreBound => "1",
        Arg::TtlMs => "1000",
    };
    let mut checked = 0;
    for spec in &OPS {
        let kinds: Vec<Arg> = match spec.args {
            Args::Fixed(fixed) | Args::Optional(fixed, _) => fixed.to_vec(),
            Args::Items(item) => item.to_vec(),
        };
        let packed = |args: &[&str]| {
            let key_number = if spec.key == KeyUse::Pattern { 0 } else { 1 };
            let mut entry = vec![serde_json::json!(spec.name), serde_json::json!(key_number)];
            entry.extend(args.iter().map(|arg| serde_json::json!(arg)));
            serde_json::json!([u8::from(spec.writes), [], [entry]]).to_string()
        };
        let good: Vec<&str> = kinds.iter().map(sample).collect();
        let mut cases = Vec::new();
        let too_many = match spec.args {
            Args::Optional(fixed, optional) => fixed.len() + optional.len() + 1,
            Args::Items(item) if item.len() == 1 => 0,
            _ => kinds.len() + 1,
        };
        if too_many > 0 {
            cases.push(packed(&vec!["1"; too_many]));
        }
        for (position, kind) in kinds.iter().enumerate() {
            if *kind != Arg::Text {
                let mut bad = good.clone();
                bad[position] = "x";
                cases.push(packed(&bad));
            }
        }
        for case in cases {
            let from_redis = on_redis.execute_packed(spec.name, &case).await.unwrap();
            let from_memory = in_memory.execute_packed(spec.name, &case).await.unwrap();
            assert!(from_redis.starts_with("[4,"), "{case}: {from_redis}");
            assert_eq!(from_redis, from_memory, "{case}");
            checked += 1;
        }
        // Each op on a key of its own, so that no earlier op gave it a type.
        let fine = packed(&good);
        let from_redis = on_redis.execute_packed(spec.name, &fine).await.unwrap();
        assert!(from_redis.starts_with("[1,"), "{fine}: {from_redis}");
    }
    assert!(checked > OPS.len(), "{checked} cases");
}
