//! Conversation items, ownership and state, on the in-memory store, on
//! Redis and on Redis in the sharded layout: append/read/pop/clear, their
//! limits and versions, no resurrection, owner listing and scoping, state
//! deltas with their ADK prefixes, and what delete and cleanup remove.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_sessions_host::conversation::{ItemOptions, ItemsAppend, ItemsQuery, Owner, StateMap};
use agent_sessions_host::model::{ConflictPolicy, ImportRecord};
use agent_sessions_host::{Error, SessionCreate, SessionStore};
use agent_sessions_tests::{Backend, minimal, on_both_backends};
use serde_json::value::RawValue;

on_both_backends!(
    appended_items_read_back_in_order,
    reads_take_the_last_n_or_a_range,
    pop_and_clear,
    every_write_bumps_the_version_and_checks_it,
    keep_last_trims_and_the_cap_refuses,
    no_resurrection_after_expiry,
    create_if_missing_makes_one_session,
    bad_items_are_invalid_input,
    owners_list_their_sessions_newest_updated_first,
    another_owner_sees_no_session,
    state_deltas_follow_the_adk_prefixes,
    delete_and_cleanup_remove_items_state_and_owner_entries,
    export_and_import_carry_items_state_and_owner,
    stats_count_items_and_owners,
    shared_state_is_a_second_step_only_in_the_sharded_layout,
);

fn json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

fn items(texts: &[&str]) -> Vec<Box<RawValue>> {
    texts.iter().map(|t| json(t)).collect()
}

fn append(texts: &[&str]) -> ItemsAppend {
    ItemsAppend {
        items: items(texts),
        expected_version: None,
        keep_last: None,
        owner: None,
        state_delta: None,
        create_if_missing: None,
    }
}

fn texts(page_items: &[Box<RawValue>]) -> Vec<String> {
    page_items.iter().map(|item| item.get().to_owned()).collect()
}

fn last(n: u32) -> ItemsQuery {
    ItemsQuery { last: Some(n), ..ItemsQuery::default() }
}

fn owner(app: &str, user: &str) -> Owner {
    Owner { app_name: app.into(), user_id: user.into() }
}

fn state(pairs: &[(&str, &str)]) -> StateMap {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), json(v))).collect()
}

async fn owned(store: &SessionStore, id: &str, owner: &Owner) {
    let input = SessionCreate {
        id: Some(id.into()),
        app_name: Some(owner.app_name.clone()),
        user_id: Some(owner.user_id.clone()),
        ..minimal("google-adk")
    };
    store.create(input).await.unwrap();
}

async fn appended_items_read_back_in_order(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let receipt = h.store.append_items(&id, &append(&[r#"{"role":"user","content":"hi"}"#, "2"])).await.unwrap();
    assert_eq!((receipt.count, receipt.version), (2, 2));
    let receipt =
        h.store.append_items(&id, &append(&[r#"{ "spaced" : [1, 2.50, 18446744073709551617] }"#])).await.unwrap();
    assert_eq!((receipt.count, receipt.version), (3, 3));
    let page = h.store.get_items(&id, &ItemsQuery::default()).await.unwrap();
    // Stored and returned byte for byte, big integers and spacing included.
    assert_eq!(
        texts(&page.items),
        [r#"{"role":"user","content":"hi"}"#, "2", r#"{ "spaced" : [1, 2.50, 18446744073709551617] }"#]
    );
    assert_eq!((page.total, page.first_index, page.left_out, page.version), (3, 0, 0, 3));
    // Reads write nothing.
    assert_eq!(h.store.get(&id).await.unwrap().meta.version, 3);
}

async fn reads_take_the_last_n_or_a_range(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let all: Vec<String> = (0..30).map(|n| n.to_string()).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    h.store.append_items(&id, &append(&refs)).await.unwrap();
    let page = h.store.get_items(&id, &last(20)).await.unwrap();
    assert_eq!(texts(&page.items), all[10..]);
    assert_eq!((page.first_index, page.left_out, page.total), (10, 0, 30));
    let count = h.store.get_items(&id, &last(0)).await.unwrap();
    assert_eq!((count.items.len(), count.total), (0, 30));
    let range = h.store.get_items(&id, &ItemsQuery { start: Some(5), stop: Some(7), ..Default::default() }).await;
    assert_eq!(texts(&range.unwrap().items), ["5", "6", "7"]);
    let past = h.store.get_items(&id, &ItemsQuery { start: Some(40), ..Default::default() }).await.unwrap();
    assert!(past.items.is_empty());
    let both = h.store.get_items(&id, &ItemsQuery { last: Some(1), start: Some(0), ..Default::default() }).await;
    assert!(matches!(both, Err(Error::InvalidInput(_))), "{both:?}");
    let backwards = h.store.get_items(&id, &ItemsQuery { start: Some(5), stop: Some(2), ..Default::default() }).await;
    assert!(matches!(backwards, Err(Error::InvalidInput(_))), "{backwards:?}");
    // More than one read's 1000 items: the oldest are left out, and said.
    let big: Vec<String> = (0..1000).map(|n| format!("{n}")).collect();
    let refs: Vec<&str> = big.iter().map(String::as_str).collect();
    h.store.append_items(&id, &append(&refs)).await.unwrap();
    let page = h.store.get_items(&id, &ItemsQuery::default()).await.unwrap();
    assert_eq!((page.items.len(), page.left_out, page.first_index, page.total), (1000, 30, 30, 1030));
}

async fn pop_and_clear(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let empty = h.store.pop_item(&id, &ItemOptions::default()).await.unwrap();
    assert!(empty.item.is_none());
    assert_eq!((empty.count, empty.version), (0, 1), "popping nothing writes nothing");
    h.store.append_items(&id, &append(&["1", "2", "3"])).await.unwrap();
    let popped = h.store.pop_item(&id, &ItemOptions::default()).await.unwrap();
    assert_eq!((popped.item.unwrap().get(), popped.count, popped.version), ("3", 2, 3));
    let cleared = h.store.clear_items(&id, &ItemOptions::default()).await.unwrap();
    assert_eq!((cleared.count, cleared.version), (0, 4));
    assert!(h.store.get_items(&id, &ItemsQuery::default()).await.unwrap().items.is_empty());
    assert_eq!(h.store.get(&id).await.unwrap().data.model_id, "m", "clearing keeps the session");
}

async fn every_write_bumps_the_version_and_checks_it(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let stale = ItemsAppend { expected_version: Some(7), ..append(&["1"]) };
    let error = h.store.append_items(&id, &stale).await.unwrap_err();
    assert!(matches!(&error, Error::Conflict(m) if m.contains("version 1")), "{error:?}");
    let fresh = ItemsAppend { expected_version: Some(1), ..append(&["1"]) };
    assert_eq!(h.store.append_items(&id, &fresh).await.unwrap().version, 2);
    let options = ItemOptions { expected_version: Some(1), owner: None };
    assert!(matches!(h.store.pop_item(&id, &options).await, Err(Error::Conflict(_))));
    assert!(matches!(h.store.clear_items(&id, &options).await, Err(Error::Conflict(_))));
    assert_eq!(h.store.get_items(&id, &last(0)).await.unwrap().total, 1, "a refused write wrote nothing");
}

async fn keep_last_trims_and_the_cap_refuses(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    for n in 0..4 {
        let text = n.to_string();
        let request = ItemsAppend { keep_last: Some(2), ..append(&[&text]) };
        h.store.append_items(&id, &request).await.unwrap();
    }
    assert_eq!(texts(&h.store.get_items(&id, &ItemsQuery::default()).await.unwrap().items), ["2", "3"]);
    let thousand: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
    let refs: Vec<&str> = thousand.iter().map(String::as_str).collect();
    for _ in 0..9 {
        h.store.append_items(&id, &append(&refs)).await.unwrap();
    }
    let over = h.store.append_items(&id, &append(&refs)).await.unwrap_err();
    assert!(matches!(&over, Error::InvalidInput(m) if m.contains("10000")), "{over:?}");
    let trimmed = ItemsAppend { keep_last: Some(10_000), ..append(&refs) };
    assert_eq!(h.store.append_items(&id, &trimmed).await.unwrap().count, 10_000);
}

async fn no_resurrection_after_expiry(backend: Backend) {
    let h = backend.harness(|b| b.session_ttl(Duration::from_secs(60))).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    h.store.append_items(&id, &append(&["1"])).await.unwrap();
    h.let_expire(std::slice::from_ref(&id), Duration::from_secs(61));
    let error = h.store.append_items(&id, &append(&["2"])).await.unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error:?}");
    assert!(matches!(h.store.get_items(&id, &last(5)).await, Err(Error::NotFound(_))));
    assert!(matches!(h.store.pop_item(&id, &ItemOptions::default()).await, Err(Error::NotFound(_))));
    assert!(matches!(h.store.clear_items(&id, &ItemOptions::default()).await, Err(Error::NotFound(_))));
    assert_eq!(h.store.cleanup_expired().await.unwrap().removed, 1);
}

async fn create_if_missing_makes_one_session(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let request = || ItemsAppend { create_if_missing: Some(minimal("openai-agents")), ..append(&["1", "2", "3"]) };
    let store = h.store.clone();
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let request = request();
            tokio::spawn(async move { store.append_items("first-use", &request).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for run in runs {
        created += usize::from(run.await.unwrap().created);
    }
    assert_eq!(created, 1, "concurrent first uses create one session");
    let page = h.store.get_items("first-use", &ItemsQuery::default()).await.unwrap();
    assert_eq!(page.total, 24);
    for batch in texts(&page.items).chunks(3) {
        assert_eq!(batch, ["1", "2", "3"], "batches never interleave");
    }
    assert_eq!(h.store.get("first-use").await.unwrap().data.model_id, "openai-agents");
}

async fn bad_items_are_invalid_input(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let cases = [
        (append(&[]), "1 to 1000"),
        (ItemsAppend { keep_last: Some(0), ..append(&["1"]) }, "keep_last"),
        (append(&[&format!("\"{}\"", "x".repeat(512 * 1024))]), "at most 524288"),
        (ItemsAppend { state_delta: Some(state(&[("app:x", "1")])), ..append(&["1"]) }, "owner"),
        (ItemsAppend { owner: Some(owner("", "u")), ..append(&["1"]) }, "app_name"),
        (
            ItemsAppend { expected_version: Some(0), create_if_missing: Some(minimal("m")), ..append(&["1"]) },
            "not both",
        ),
    ];
    for (request, expected) in cases {
        match h.store.append_items(&id, &request).await {
            Err(Error::InvalidInput(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("{expected}: {other:?}"),
        }
    }
    let bad_json = h.store.call("append-items", vec![id.as_str().into(), r#"{"items":[{"a":}]}"#.into()]).await;
    assert!(matches!(bad_json, Err(Error::InvalidInput(_))), "{bad_json:?}");
    assert!(matches!(h.store.get_items("a:b", &last(1)).await, Err(Error::InvalidInput(_))));
}

async fn owners_list_their_sessions_newest_updated_first(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let (ana, ben) = (owner("app", "ana"), owner("app", "ben"));
    for id in ["a1", "a2", "a3"] {
        owned(&h.store, id, &ana).await;
    }
    owned(&h.store, "b1", &ben).await;
    owned(&h.store, "other", &owner("other app", "ana")).await;
    h.store.create(minimal("no owner")).await.unwrap();
    // a1 is the most recently updated now (or tied, within a millisecond).
    let request = ItemsAppend { owner: Some(ana.clone()), ..append(&["1"]) };
    h.store.append_items("a1", &request).await.unwrap();
    let newest_first = |page: &agent_sessions_host::conversation::OwnerPage| {
        let times: Vec<i64> = page.sessions.iter().map(|s| s.updated_at_ms).collect();
        assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
    };
    let full = h.store.list_by_owner("app", "ana", 10, "").await.unwrap();
    newest_first(&full);
    let latest = full.sessions.iter().map(|s| s.updated_at_ms).max().unwrap();
    assert_eq!(full.sessions.iter().find(|s| s.id == "a1").unwrap().updated_at_ms, latest);

    let page = h.store.list_by_owner("app", "ana", 2, "").await.unwrap();
    assert_eq!(page.sessions.len(), 2);
    let rest = h.store.list_by_owner("app", "ana", 2, page.next_page_token.as_deref().unwrap()).await.unwrap();
    assert_eq!(rest.sessions.len(), 1);
    let mut seen: Vec<String> = page.sessions.iter().chain(&rest.sessions).map(|s| s.id.clone()).collect();
    seen.sort();
    assert_eq!(seen, ["a1", "a2", "a3"]);
    let everyone = h.store.list_by_owner("app", "", 100, "").await.unwrap();
    assert_eq!(everyone.sessions.len(), 4);
    assert!(h.store.list_by_owner("app", "nobody", 10, "").await.unwrap().sessions.is_empty());
    let detail = h.store.get("b1").await.unwrap();
    assert_eq!((detail.meta.app_name.as_deref(), detail.meta.user_id.as_deref()), (Some("app"), Some("ben")));
    // An update without the owner still re-scores the owner index.
    let updated = h.store.update("a3", Default::default()).await.unwrap();
    assert_eq!(updated.meta.version, 2);
    let full = h.store.list_by_owner("app", "ana", 10, "").await.unwrap();
    newest_first(&full);
    let a3 = full.sessions.iter().find(|s| s.id == "a3").unwrap();
    assert_eq!((a3.version, a3.updated_at_ms), (2, full.sessions.iter().map(|s| s.updated_at_ms).max().unwrap()));
}

async fn another_owner_sees_no_session(backend: Backend) {
    let h = backend.harness(|b| b).await;
    owned(&h.store, "mine", &owner("app", "ana")).await;
    let theirs = Some(owner("app", "ben"));
    let request = ItemsAppend { owner: theirs.clone(), ..append(&["1"]) };
    assert!(matches!(h.store.append_items("mine", &request).await, Err(Error::NotFound(_))));
    let query = ItemsQuery { owner: theirs.clone(), ..ItemsQuery::default() };
    assert!(matches!(h.store.get_items("mine", &query).await, Err(Error::NotFound(_))));
    let options = ItemOptions { owner: theirs, expected_version: None };
    assert!(!h.store.delete_with("mine", &options).await.unwrap());
    assert!(h.store.get("mine").await.is_ok());
    // Without an owner a call reaches any session (the owner is learned).
    h.store.append_items("mine", &append(&["1"])).await.unwrap();
    let options = ItemOptions { owner: Some(owner("app", "ana")), expected_version: Some(2) };
    assert!(h.store.delete_with("mine", &options).await.unwrap());
}

async fn state_deltas_follow_the_adk_prefixes(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let ana = owner("app", "ana");
    let initial: BTreeMap<String, serde_json::Value> = [
        ("topic".to_owned(), serde_json::json!("rain")),
        ("user:lang".to_owned(), serde_json::json!("en")),
        ("app:version".to_owned(), serde_json::json!(1)),
        ("temp:x".to_owned(), serde_json::json!(true)),
    ]
    .into();
    let input = SessionCreate {
        id: Some("s1".into()),
        app_name: Some("app".into()),
        user_id: Some("ana".into()),
        state: Some(initial),
        ..minimal("google-adk")
    };
    h.store.create(input).await.unwrap();
    let delta = state(&[("topic", r#""snow""#), ("user:lang", r#""fr""#), ("app:version", "2"), ("temp:y", "1")]);
    let request = ItemsAppend { owner: Some(ana.clone()), state_delta: Some(delta), ..append(&[r#"{"event":1}"#]) };
    h.store.append_items("s1", &request).await.unwrap();
    owned(&h.store, "s2", &ana).await;
    owned(&h.store, "b1", &owner("app", "ben")).await;

    let merged = |id: &str, who: Owner| {
        let store = h.store.clone();
        let id = id.to_owned();
        async move {
            let query = ItemsQuery { owner: Some(who), include_session: true, last: Some(0), ..Default::default() };
            let page = store.get_items(&id, &query).await.unwrap();
            page.state.unwrap().into_iter().map(|(k, v)| (k, v.get().to_owned())).collect::<BTreeMap<_, _>>()
        }
    };
    let expected = |pairs: &[(&str, &str)]| {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        merged("s1", ana.clone()).await,
        expected(&[("app:version", "2"), ("topic", r#""snow""#), ("user:lang", r#""fr""#)])
    );
    assert_eq!(merged("s2", ana.clone()).await, expected(&[("app:version", "2"), ("user:lang", r#""fr""#)]));
    assert_eq!(merged("b1", owner("app", "ben")).await, expected(&[("app:version", "2")]));
    let page = h.store.list_by_owner("app", "ana", 10, "").await.unwrap();
    assert_eq!(page.app_state.get("version").map(|v| v.get()), Some("2"));
    assert_eq!(page.user_states["ana"].get("lang").map(|v| v.get()), Some(r#""fr""#));
    let s1 = page.sessions.iter().find(|s| s.id == "s1").unwrap();
    assert_eq!(s1.state.keys().collect::<Vec<_>>(), ["topic"]);
}

async fn delete_and_cleanup_remove_items_state_and_owner_entries(backend: Backend) {
    let h = backend.harness(|b| b.session_ttl(Duration::from_secs(60))).await;
    let ana = owner("app", "ana");
    for id in ["gone", "expired", "kept"] {
        owned(&h.store, id, &ana).await;
        let request =
            ItemsAppend { owner: Some(ana.clone()), state_delta: Some(state(&[("k", "1")])), ..append(&["1", "2"]) };
        h.store.append_items(id, &request).await.unwrap();
    }
    assert!(h.store.delete("gone").await.unwrap(), "plain delete finds the owner itself");
    h.let_expire(&["expired".to_owned()], Duration::from_secs(61));
    if backend == Backend::Memory {
        // The memory clock moved for every session; keep one alive.
        assert_eq!(h.store.cleanup_expired().await.unwrap().removed, 2);
        assert!(h.store.list_by_owner("app", "ana", 10, "").await.unwrap().sessions.is_empty());
        return;
    }
    assert_eq!(h.store.cleanup_expired().await.unwrap().removed, 1);
    let page = h.store.list_by_owner("app", "ana", 10, "").await.unwrap();
    assert_eq!(page.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["kept"]);
    let mut redis = h.server().connection();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    let mut leftovers: Vec<&String> = keys.iter().filter(|k| k.contains("gone") || k.contains("expired")).collect();
    leftovers.sort();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    for index in keys.iter().filter(|k| k.starts_with("owner_index") || k.starts_with("app_index")) {
        let members: Vec<String> = ::redis::cmd("ZRANGE").arg(index).arg(0).arg(-1).query(&mut redis).unwrap();
        assert_eq!(members, ["kept"], "{index}");
    }
}

async fn export_and_import_carry_items_state_and_owner(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let ana = owner("app", "ana");
    owned(&h.store, "conv", &ana).await;
    let request = ItemsAppend {
        owner: Some(ana.clone()),
        state_delta: Some(state(&[("k", r#"{"deep":[1,2]}"#)])),
        ..append(&[r#"{"a": 1}"#, "[2]"])
    };
    h.store.append_items("conv", &request).await.unwrap();
    let mut exported = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = h.store.export_sessions(&cursor).await.unwrap();
        exported.extend(page.sessions);
        if page.done {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].items, [r#"{"a": 1}"#, "[2]"]);
    assert_eq!(exported[0].state, [("k".to_owned(), r#"{"deep":[1,2]}"#.to_owned())]);

    let target = h.builder().prefix("copy:").build().await.unwrap();
    let records = exported.into_iter().map(ImportRecord::Stored).collect();
    let report = target.import_sessions(records, ConflictPolicy::Fail, false).await.unwrap();
    assert_eq!(report.imported, 1, "{report:?}");
    let query = ItemsQuery { owner: Some(ana), include_session: true, ..Default::default() };
    let page = target.get_items("conv", &query).await.unwrap();
    assert_eq!(texts(&page.items), [r#"{"a": 1}"#, "[2]"]);
    assert_eq!(page.state.unwrap()["k"].get(), r#"{"deep":[1,2]}"#);
    let listed = target.list_by_owner("app", "ana", 10, "").await.unwrap();
    assert_eq!(listed.sessions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["conv"]);
}

async fn stats_count_items_and_owners(backend: Backend) {
    let h = backend.harness(|b| b).await;
    owned(&h.store, "owned", &owner("app", "ana")).await;
    let plain = h.store.create(minimal("m")).await.unwrap().id;
    h.store.append_items(&plain, &append(&["1", "2", "3"])).await.unwrap();
    h.store.append_items("owned", &append(&["1"])).await.unwrap();
    let stats = h.store.stats(|_| {}).await.unwrap();
    assert_eq!((stats.sessions, stats.items, stats.sessions_with_items, stats.max_items), (2, 4, 2, 3));
    assert_eq!(stats.max_items_session_id.as_deref(), Some(plain.as_str()));
    assert_eq!(stats.owned_sessions, 1);
    assert!(stats.problems.is_empty(), "{:?}", stats.problems);
}

/// A user's state hash that cannot be written (another type in its key):
/// in the document's layout the whole append fails and writes nothing; in
/// the sharded layout the session's own step (event, own state, version)
/// is applied atomically, and the call says the shared state was not.
async fn shared_state_is_a_second_step_only_in_the_sharded_layout(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let ana = owner("app", "ana");
    owned(&h.store, "s", &ana).await;
    let user_key = h.store.settings().layout().user_state("app", "ana");
    match &h.redis {
        Some(redis) => {
            let mut connection = redis.connection();
            let _: () = ::redis::cmd("SET").arg(&user_key).arg("not a hash").query(&mut connection).unwrap();
        }
        None => return, // the in-memory store has no way to plant a key of another type
    }
    let request = ItemsAppend {
        owner: Some(ana.clone()),
        state_delta: Some(state(&[("own", "1"), ("user:lang", r#""fr""#)])),
        ..append(&[r#"{"event":1}"#])
    };
    let error = h.store.append_items("s", &request).await.unwrap_err();
    let page = h.store.get_items("s", &ItemsQuery { owner: Some(ana), ..Default::default() }).await.unwrap();
    if backend == Backend::RedisSharded {
        assert!(matches!(&error, Error::Backend { message, .. } if message.contains("version 2")), "{error:?}");
        assert_eq!((page.total, page.version), (1, 2), "the session's own step was applied");
    } else {
        assert!(matches!(error, Error::DataCorrupt(_) | Error::Backend { .. }), "{error:?}");
        assert_eq!((page.total, page.version), (0, 1), "nothing was written");
    }
}
