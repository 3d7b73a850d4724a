//! The packed form, both halves: what the guest packs, a backend unpacks
//! to the same batch, and what a backend packs as a reply, the guest reads
//! back as the same outcome.

use agent_sessions_kv::table::{OPS, ReplyShape};
use agent_sessions_kv::wire::{batch_writes, decode_batch, decode_reply, encode_batch, encode_reply};
use agent_sessions_kv::{
    Batch, BatchOutcome, Condition, ErrorKind, KeyScanRequest, KvError, Op, Reply, ScanPage, ScanRequest, ScoreBound,
};

fn sample() -> Batch {
    Batch::new()
        .condition(Condition::KeyExists("session_expiry:a".into()))
        .condition(Condition::FieldEquals { key: "m".into(), field: "version".into(), value: "3".into() })
        .op(Op::HashSet { key: "m".into(), fields: vec![("f".into(), "line\n\"quoted\" \u{1} é".into())] })
        .op(Op::HashIncrement { key: "m".into(), field: "version".into(), delta: -2 })
        .op(Op::StringSet { key: "session_expiry:a".into(), value: String::new(), ttl_ms: Some(3_600_000) })
        .op(Op::SortedAdd { key: "z".into(), members: vec![(1_750_000_000_123.0, "a".into()), (0.5, "b".into())] })
        .op(Op::SortedRangeDesc { key: "z".into(), start: 0, stop: u64::MAX })
        .op(Op::KeyScan(KeyScanRequest { pattern: "session:*".into(), cursor: "0".into(), count: 10 }))
        .op(Op::SetScan(ScanRequest { key: "s".into(), cursor: "17".into(), count: 250 }))
        .op(Op::HashGetFields { key: "m".into(), fields: vec!["a".into(), "b".into()] })
        .op(Op::SortedRangeByScoreDesc {
            key: "z".into(),
            max: ScoreBound::exclusive(1_750_000_000_123.0),
            min: ScoreBound::inclusive(f64::NEG_INFINITY),
            limit: Some((1000, 10)),
        })
}

#[test]
fn a_batch_survives_packing() {
    let batch = sample();
    let packed = encode_batch(&batch).unwrap();
    assert_eq!(packed.keys, "session_expiry:a\nm\nz\ns");
    let keys: Vec<String> = packed.keys.split('\n').map(str::to_owned).collect();
    let mut expected = batch.clone();
    if let Op::SortedRangeDesc { stop, .. } = &mut expected.ops[4] {
        *stop = i64::MAX as u64;
    }
    assert_eq!(decode_batch(&keys, &packed.batch).unwrap(), expected);
}

#[test]
fn replies_survive_packing() {
    let batch = sample();
    let replies = vec![
        Reply::Integer(1),
        Reply::Integer(1),
        Reply::Integer(1),
        Reply::Integer(2),
        Reply::Scored(vec![("a".into(), 1_750_000_000_123.0), ("b".into(), 0.5)]),
        Reply::Scan(ScanPage { cursor: "0".into(), members: vec!["session:x".into()] }),
        Reply::Scan(ScanPage { cursor: "0".into(), members: vec![] }),
        Reply::Values(vec![Some("1".into()), None]),
        Reply::Scored(vec![]),
    ];
    let outcome = Ok(BatchOutcome::Applied(replies));
    assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
    let failed = Ok(BatchOutcome::ConditionFailed { index: 1, actual: Some("4".into()) });
    assert_eq!(decode_reply(&batch, &encode_reply(&failed)), failed);
    let wrong = Err(KvError::wrong_type("m", "the key holds a set, not a hash"));
    assert_eq!(decode_reply(&batch, &encode_reply(&wrong)), wrong);
}

#[test]
fn cjson_forms_are_read() {
    let batch = Batch::new().op(Op::HashGetAll("h".into())).op(Op::TtlMs("k".into()));
    assert_eq!(
        decode_reply(&batch, "[1,{},1e+15]"),
        Ok(BatchOutcome::Applied(vec![Reply::Fields(vec![]), Reply::Integer(1_000_000_000_000_000)]))
    );
}

#[test]
fn malformed_replies_are_invalid_batches_not_panics() {
    let batch = Batch::new().op(Op::Exists("k".into()));
    for reply in ["", "{}", "[]", "[1]", "[1,\"x\"]", "[0]", "[7]", "[2]", "[1,1,2]"] {
        assert_eq!(decode_reply(&batch, reply).unwrap_err().kind, ErrorKind::InvalidBatch, "{reply}");
    }
}

#[test]
fn malformed_batches_are_refused() {
    let keys = vec!["k".to_owned()];
    for batch in [
        "",
        "[]",
        "[[],[]]",
        "[2,[],[]]",
        "[0,[],[[\"nope\",1]]]",
        "[0,[],[[\"exists\",2]]]",
        "[0,[],[[\"exists\",0]]]",
        "[0,[[\"exists\"]],[]]",
    ] {
        assert_eq!(decode_batch(&keys, batch).unwrap_err().kind, ErrorKind::InvalidBatch, "{batch}");
    }
}

fn list_sample() -> Batch {
    Batch::new()
        .condition(Condition::ListLength { key: "l".into(), min: 0, max: u64::MAX })
        .condition(Condition::ListLength { key: "l".into(), min: 1, max: 1000 })
        .op(Op::ListPush { key: "l".into(), values: vec!["{\"role\":\"user\"}".into(), "line\n\"two\" é".into()] })
        .op(Op::ListTrim { key: "l".into(), start: i64::MIN, stop: -1 })
        .op(Op::ListRangeTail { key: "l".into(), start: -20, stop: i64::MAX, max_bytes: 4 << 20 })
        .op(Op::ListPopLast("l".into()))
        .op(Op::ListLength("l".into()))
        .op(Op::HashDelete { key: "h".into(), fields: vec!["a".into(), "b".into()] })
        .op(Op::ListRangeTail { key: "l".into(), start: 0, stop: 0, max_bytes: 1 })
}

#[test]
fn list_batches_survive_packing() {
    let batch = list_sample();
    let packed = encode_batch(&batch).unwrap();
    assert_eq!(packed.keys, "l\nh");
    assert!(packed.batch.starts_with(r#"[1,[["llen_between",1,"0","18446744073709551615"],"#), "{}", packed.batch);
    assert!(packed.batch.contains(r#"["ltrim",1,"-9223372036854775808","-1"]"#), "{}", packed.batch);
    assert!(packed.batch.contains(r#"["lrange",1,"-20","9223372036854775807","4194304"]"#), "{}", packed.batch);
    assert!(packed.batch.contains(r#"["rpop",1],["llen",1],["hdel",2,"a","b"]"#), "{}", packed.batch);
    let keys: Vec<String> = packed.keys.split('\n').map(str::to_owned).collect();
    assert_eq!(decode_batch(&keys, &packed.batch).unwrap(), batch);
}

#[test]
fn list_replies_survive_packing() {
    let batch = list_sample();
    let replies = vec![
        Reply::Integer(2),
        Reply::Integer(1),
        Reply::ListTail { left_out: 3, items: vec!["{\"role\":\"user\"}".into(), "line\n\"two\" é".into()] },
        Reply::Text(Some("line\n\"two\" é".into())),
        Reply::Integer(1),
        Reply::Integer(2),
        Reply::ListTail { left_out: 0, items: vec![] },
    ];
    let outcome = Ok(BatchOutcome::Applied(replies));
    assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
    let mut popped_nothing = match outcome {
        Ok(BatchOutcome::Applied(replies)) => replies,
        _ => unreachable!(),
    };
    popped_nothing[3] = Reply::Text(None);
    let outcome = Ok(BatchOutcome::Applied(popped_nothing));
    assert_eq!(decode_reply(&batch, &encode_reply(&outcome)), outcome);
    let failed = Ok(BatchOutcome::ConditionFailed { index: 1, actual: Some("0".into()) });
    assert_eq!(decode_reply(&batch, &encode_reply(&failed)), failed);
    let wrong = Err(KvError::wrong_type("l", "the key holds a hash, not a list"));
    assert_eq!(decode_reply(&batch, &encode_reply(&wrong)), wrong);
}

#[test]
fn list_tails_in_cjson_forms_are_read() {
    let batch = Batch::new().op(Op::ListRangeTail { key: "l".into(), start: 0, stop: -1, max_bytes: 10 });
    let tail = |left_out, items: &[&str]| {
        Ok(BatchOutcome::Applied(vec![Reply::ListTail {
            left_out,
            items: items.iter().map(|item| (*item).to_owned()).collect(),
        }]))
    };
    assert_eq!(decode_reply(&batch, "[1,[0,{}]]"), tail(0, &[]));
    assert_eq!(decode_reply(&batch, r#"[1,[2,["b","c"]]]"#), tail(2, &["b", "c"]));
    for reply in ["[1,{}]", "[1,[0]]", "[1,[-1,[]]]", "[1,[0,[],1]]", "[1,[0,[1]]]", "[1,[\"0\",[]]]", "[1,0]"] {
        assert_eq!(decode_reply(&batch, reply).unwrap_err().kind, ErrorKind::InvalidBatch, "{reply}");
    }
}

#[test]
fn list_indexes_and_counts_are_read_in_their_plain_form_only() {
    let keys = vec!["l".to_owned()];
    let range = |start: &str, stop: &str, max_bytes: &str| {
        decode_batch(&keys, &format!(r#"[0,[],[["lrange",1,"{start}","{stop}","{max_bytes}"]]]"#))
    };
    let read =
        |start, stop, max_bytes| Ok(Batch::new().op(Op::ListRangeTail { key: "l".into(), start, stop, max_bytes }));
    assert_eq!(range("0", "-1", "1"), read(0, -1, 1));
    assert_eq!(range("-9223372036854775808", "9223372036854775807", "0"), read(i64::MIN, i64::MAX, 0));
    // Beyond 64 bits a count saturates, as the script's numbers do.
    assert_eq!(range("1", "2", "99999999999999999999999"), read(1, 2, u64::MAX));
    for (start, message) in [
        ("+1", r#"op 0: "+1" is not an integer"#),
        ("01", r#"op 0: "01" is not an integer"#),
        ("-0", r#"op 0: "-0" is not an integer"#),
        ("1.5", r#"op 0: "1.5" is not an integer"#),
        ("", r#"op 0: "" is not an integer"#),
        ("9223372036854775808", r#"op 0: "9223372036854775808" is not an integer"#),
        ("-9223372036854775809", r#"op 0: "-9223372036854775809" is not an integer"#),
    ] {
        assert_eq!(range(start, "-1", "5").unwrap_err().message, message, "{start}");
    }
    for max_bytes in ["-1", "+1", "", "1e3"] {
        assert_eq!(
            range("0", "-1", max_bytes).unwrap_err().message,
            format!("op 0: {max_bytes:?} is not a count"),
            "{max_bytes}"
        );
    }
    let condition = |min: &str, max: &str| {
        decode_batch(&keys, &format!(r#"[0,[["llen_between",1,"{min}","{max}"]],[]]"#)).map_err(|e| e.message)
    };
    assert_eq!(
        condition("0", "7"),
        Ok(Batch::new().condition(Condition::ListLength { key: "l".into(), min: 0, max: 7 }))
    );
    assert_eq!(condition("-1", "7"), Err(r#"condition 0: "-1" is not a count"#.to_owned()));
    assert_eq!(condition("0", "x"), Err(r#"condition 0: "x" is not a count"#.to_owned()));
    for (batch, message) in [
        (r#"[1,[],[["ltrim",1,"0"]]]"#, "op 0: unknown op ltrim with 1 args"),
        (r#"[1,[],[["ltrim",1,"0","01"]]]"#, r#"op 0: "01" is not an integer"#),
        (r#"[0,[],[["lrange",1,"0","1"]]]"#, "op 0: unknown op lrange with 2 args"),
        (r#"[1,[],[["rpop",1,"2"]]]"#, "op 0: unknown op rpop with 1 args"),
        (r#"[0,[],[["llen",1,"x"]]]"#, "op 0: unknown op llen with 1 args"),
        (r#"[0,[["llen_between",1,"0"]],[]]"#, "condition 0: unknown condition llen_between with 1 args"),
    ] {
        assert_eq!(decode_batch(&keys, batch).unwrap_err().message, message, "{batch}");
    }
}

#[test]
fn keys_with_line_breaks_cannot_be_packed() {
    let batch = Batch::new().op(Op::Exists("a\nb".into()));
    assert_eq!(encode_batch(&batch).unwrap_err().kind, ErrorKind::InvalidBatch);
}

#[test]
fn a_packed_batch_says_whether_it_writes() {
    let read = Batch::new().condition(Condition::KeyExists("k".into())).op(Op::HashGetAll("k".into()));
    let packed = encode_batch(&read).unwrap();
    assert!(packed.batch.starts_with("[0,") && !batch_writes(&packed.batch), "{}", packed.batch);
    let write = read.clone().op(Op::Delete("k".into()));
    let packed = encode_batch(&write).unwrap();
    assert!(packed.batch.starts_with("[1,") && batch_writes(&packed.batch), "{}", packed.batch);
    assert!(batch_writes(&encode_batch(&list_sample()).unwrap().batch));
    assert!(!batch_writes(&encode_batch(&Batch::new()).unwrap().batch));
    let keys = vec!["k".to_owned()];
    for (batch, message) in [
        (r#"[1,[],[["hgetall",1]]]"#, "the batch's write flag is 1 but its ops only read"),
        (r#"[0,[],[["del",1]]]"#, "the batch's write flag is 0 but its ops write"),
        (r#"[1,[],[]]"#, "the batch's write flag is 1 but its ops only read"),
    ] {
        assert_eq!(decode_batch(&keys, batch).unwrap_err().message, message, "{batch}");
    }
}

/// One op of every row of the table, packed, names that row's code, and
/// unpacks to itself; its write flag and reply shape are the row's.
#[test]
fn every_op_packs_under_its_tables_code() {
    let key = || "k".to_owned();
    let scan = || ScanRequest { key: key(), cursor: "0".into(), count: 1 };
    let every_op = [
        Op::HashGetAll(key()),
        Op::HashGet { key: key(), field: "f".into() },
        Op::HashGetFields { key: key(), fields: vec!["f".into()] },
        Op::HashSet { key: key(), fields: vec![("f".into(), "v".into())] },
        Op::HashIncrement { key: key(), field: "f".into(), delta: -1 },
        Op::HashDelete { key: key(), fields: vec!["f".into()] },
        Op::StringSet { key: key(), value: String::new(), ttl_ms: Some(5) },
        Op::Exists(key()),
        Op::TtlMs(key()),
        Op::Expire { key: key(), ttl_ms: 1 },
        Op::Delete(key()),
        Op::SetAdd { key: key(), members: vec!["m".into()] },
        Op::SetRemove { key: key(), members: vec!["m".into()] },
        Op::SetSize(key()),
        Op::SetScan(scan()),
        Op::SetContains { key: key(), member: "m".into() },
        Op::SortedAdd { key: key(), members: vec![(1.5, "m".into())] },
        Op::SortedRemove { key: key(), members: vec!["m".into()] },
        Op::SortedSize(key()),
        Op::SortedScore { key: key(), member: "m".into() },
        Op::SortedRangeDesc { key: key(), start: 0, stop: 1 },
        Op::SortedRangeByScoreDesc {
            key: key(),
            max: ScoreBound::inclusive(1.0),
            min: ScoreBound::exclusive(0.0),
            limit: Some((0, 2)),
        },
        Op::SortedScan(scan()),
        Op::KeyScan(KeyScanRequest { pattern: "*".into(), cursor: "0".into(), count: 1 }),
        Op::ListPush { key: key(), values: vec!["v".into()] },
        Op::ListRangeTail { key: key(), start: 0, stop: -1, max_bytes: 1 },
        Op::ListPopLast(key()),
        Op::ListTrim { key: key(), start: 0, stop: -1 },
        Op::ListLength(key()),
    ];
    assert_eq!(every_op.len(), OPS.len(), "one op per row");
    for (op, spec) in every_op.iter().zip(&OPS) {
        assert_eq!(op.code(), spec.code, "{op:?}");
        let packed = encode_batch(&Batch::new().op(op.clone())).unwrap();
        let flag = if spec.writes { "[1,[],[[\"" } else { "[0,[],[[\"" };
        assert!(packed.batch.starts_with(&format!("{flag}{}\"", spec.name)), "{}", packed.batch);
        let keys: Vec<String> = packed.keys.split('\n').filter(|k| !k.is_empty()).map(str::to_owned).collect();
        assert_eq!(decode_batch(&keys, &packed.batch), Ok(Batch::new().op(op.clone())), "{}", packed.batch);
        let reply = match spec.reply {
            ReplyShape::Integer => Reply::Integer(7),
            ReplyShape::Text => Reply::Text(Some("t".into())),
            ReplyShape::Values => Reply::Values(vec![None]),
            ReplyShape::Fields => Reply::Fields(vec![("f".into(), "v".into())]),
            ReplyShape::Scored => Reply::Scored(vec![("m".into(), 2.5)]),
            ReplyShape::Scan => Reply::Scan(ScanPage { cursor: "0".into(), members: vec!["m".into()] }),
            ReplyShape::ListTail => Reply::ListTail { left_out: 1, items: vec!["v".into()] },
        };
        let outcome = Ok(BatchOutcome::Applied(vec![reply]));
        assert_eq!(decode_reply(&Batch::new().op(op.clone()), &encode_reply(&outcome)), outcome, "{op:?}");
    }
}
