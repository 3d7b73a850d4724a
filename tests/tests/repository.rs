//! Every repository operation, run against both backends: the in-memory
//! store and a real redis-server must meet the same contract.

use std::time::Duration;

use agent_sessions_host::{DataField, Error, SessionCreate, SessionUpdate};
use agent_sessions_tests::{Backend, cas_increments, example, minimal, on_both_backends};

on_both_backends!(
    create_then_get_returns_every_field,
    create_applies_defaults,
    get_reports_missing_and_invalid_ids,
    update_changes_only_given_fields,
    update_status_sets_is_active,
    update_clears_fields,
    update_compare_and_set,
    update_of_missing_session_is_not_found,
    delete_removes_the_session,
    list_pages_newest_first,
    page_tokens_visit_every_session_once_while_sessions_come_and_go,
    list_validates_limit,
    extend_ttl_only_for_live_sessions,
    expired_sessions_are_gone_and_cleaned_up,
    cleanup_leaves_live_sessions,
    bad_inputs_are_typed_errors,
    concurrent_compare_and_set_loses_no_update,
    settings_out_of_range_are_rejected,
    stats_walks_every_session_in_small_steps,
);

async fn create_then_get_returns_every_field(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let created = h.store.create(example()).await.unwrap();
    let read = h.store.get(&created.id).await.unwrap();
    assert_eq!(read.data, created.data);
    assert_eq!(read.meta, created.meta);
    assert_eq!(read.data.tools, vec!["search", "code_analysis"]);
    assert_eq!(read.data.temperature, Some(0.7));
    assert!(read.expires_in_seconds.unwrap() <= 3600 && read.expires_in_seconds.unwrap() > 3500);
}

async fn create_applies_defaults(backend: Backend) {
    let h = backend.harness(|b| b.session_ttl(Duration::from_secs(120))).await;
    let session = h.store.create(minimal("m")).await.unwrap();
    assert_eq!(session.id.len(), 36);
    assert_eq!(&session.id[14..15], "4", "a version 4 UUID");
    assert_eq!(session.id, session.id.to_lowercase());
    assert_eq!(session.meta.status, "running");
    assert!(session.meta.is_active);
    assert_eq!(session.meta.version, 1);
    assert_eq!(session.expires_in_seconds, Some(120));
    assert_eq!(session.meta.created_at, session.meta.updated_at);
    assert_eq!(session.data.persona_id, None);
    assert!(session.data.tools.is_empty());
    let other = h.store.create(minimal("m")).await.unwrap();
    assert_ne!(session.id, other.id);
}

async fn get_reports_missing_and_invalid_ids(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let missing = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
    assert_eq!(h.store.get(missing).await, Err(Error::NotFound(missing.into())));
    for bad in ["", "*", "../x", "{tag}", "session:1", "a b", "a\nb", &"x".repeat(129)] {
        assert!(matches!(h.store.get(bad).await, Err(Error::InvalidInput(_))), "{bad:?}");
    }
    // Uppercase ids name the same session.
    let session = h.store.create(minimal("m")).await.unwrap();
    assert_eq!(h.store.get(&session.id.to_uppercase()).await.unwrap().id, session.id);
}

async fn update_changes_only_given_fields(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let created = h.store.create(example()).await.unwrap();
    let updated = h
        .store
        .update(
            &created.id,
            SessionUpdate { temperature: Some(1.5), tools: Some(vec!["browser".into()]), ..SessionUpdate::default() },
        )
        .await
        .unwrap();
    assert_eq!(updated.data.temperature, Some(1.5));
    assert_eq!(updated.data.tools, vec!["browser"]);
    assert_eq!(updated.data.model_id, "gpt-4");
    assert_eq!(updated.data.persona_id.as_deref(), Some("programmer"));
    assert_eq!(updated.data.max_tokens, Some(2000));
    assert_eq!(updated.meta.version, 2);
    assert_eq!(updated.meta.created_at, created.meta.created_at);
    assert!(updated.meta.updated_at >= created.meta.updated_at);
    assert_eq!(updated.meta.last_activity, updated.meta.updated_at);
    assert_eq!(h.store.get(&created.id).await.unwrap().data, updated.data);
}

async fn update_status_sets_is_active(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    for (status, active) in [("completed", false), ("paused", true), ("failed", false), ("running", true)] {
        let session = h
            .store
            .update(&id, SessionUpdate { status: Some(status.into()), ..SessionUpdate::default() })
            .await
            .unwrap();
        assert_eq!((session.meta.status.as_str(), session.meta.is_active), (status, active));
    }
}

async fn update_clears_fields(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(example()).await.unwrap().id;
    let session = h
        .store
        .update(
            &id,
            SessionUpdate {
                clear: vec![DataField::Temperature, DataField::Tools, DataField::PersonaId],
                name: Some(String::new()),
                ..SessionUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(session.data.temperature, None);
    assert!(session.data.tools.is_empty());
    assert_eq!(session.data.persona_id, None);
    assert_eq!(session.data.name, None, "an empty string clears too");
    assert_eq!(session.data.max_tokens, Some(2000));
}

async fn update_compare_and_set(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let cas = |version: u64, name: &str| SessionUpdate {
        name: Some(name.into()),
        expected_version: Some(version),
        ..SessionUpdate::default()
    };
    assert_eq!(h.store.update(&id, cas(1, "first")).await.unwrap().meta.version, 2);
    match h.store.update(&id, cas(1, "stale")).await {
        Err(Error::Conflict(message)) => assert!(message.contains("version 2"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(h.store.update(&id, cas(0, "stale")).await, Err(Error::Conflict(_))));
    let session = h.store.get(&id).await.unwrap();
    assert_eq!((session.data.name.as_deref(), session.meta.version), (Some("first"), 2), "nothing written on conflict");
    assert_eq!(h.store.update(&id, cas(2, "second")).await.unwrap().meta.version, 3);
}

async fn update_of_missing_session_is_not_found(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
    let result = h.store.update(id, SessionUpdate { name: Some("x".into()), ..SessionUpdate::default() }).await;
    assert_eq!(result, Err(Error::NotFound(id.into())));
    assert_eq!(h.store.get(id).await, Err(Error::NotFound(id.into())), "update must not create a session");
    assert_eq!(h.store.list(10, 0).await.unwrap().total, 0);
}

async fn delete_removes_the_session(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(example()).await.unwrap().id;
    assert_eq!(h.store.delete(&id).await, Ok(true));
    assert_eq!(h.store.get(&id).await, Err(Error::NotFound(id.clone())));
    assert_eq!(h.store.delete(&id).await, Ok(false));
    assert_eq!(h.store.list(10, 0).await.unwrap().total, 0);
    assert!(matches!(h.store.delete("no pe").await, Err(Error::InvalidInput(_))));
}

async fn list_pages_newest_first(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(h.store.create(minimal(&format!("model-{n}"))).await.unwrap().id);
        // created_at has millisecond scores; keep creations apart so the
        // expected order is unambiguous.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ids.reverse();
    let mut seen = Vec::new();
    for offset in (0..30).step_by(10) {
        let page = h.store.list(10, offset).await.unwrap();
        assert_eq!(page.total, 25);
        assert_eq!((page.limit, page.offset), (10, offset));
        assert!(page.corrupt.is_empty());
        seen.extend(page.sessions.into_iter().map(|s| s.id));
    }
    assert_eq!(seen, ids, "pages are newest first, without gaps or repeats");
    let empty = h.store.list(0, 0).await.unwrap();
    assert!(empty.sessions.is_empty());
    assert_eq!(empty.total, 25);
    assert!(h.store.list(10, u64::MAX).await.unwrap().sessions.is_empty());
}

async fn page_tokens_visit_every_session_once_while_sessions_come_and_go(backend: Backend) {
    let h = backend.harness(|b| b).await;
    // Created back to back: many share a creation millisecond, so pages end
    // inside runs of ties.
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(h.store.create(minimal(&format!("model-{n}"))).await.unwrap().id);
    }
    let first = h.store.list(7, 0).await.unwrap();
    let mut seen: Vec<String> = first.sessions.iter().map(|s| s.id.clone()).collect();
    let mut token = first.next_page_token.clone().expect("a full page has a next page token");
    let mut deleted = Vec::new();
    let mut pages = 1;
    loop {
        // Between pages, sessions arrive (newer: they sort before the pages
        // already read) and one not yet seen leaves.
        for n in 0..3 {
            h.store.create(minimal(&format!("late-{pages}-{n}"))).await.unwrap();
        }
        if let Some(victim) = ids.iter().find(|id| !seen.contains(id) && !deleted.contains(*id)) {
            assert!(h.store.delete(victim).await.unwrap());
            deleted.push(victim.clone());
        }
        let page = h.store.list_after(7, &token).await.unwrap();
        assert_eq!(page.offset, 0);
        seen.extend(page.sessions.iter().map(|s| s.id.clone()));
        pages += 1;
        match page.next_page_token {
            Some(next) => token = next,
            None => break,
        }
        assert!(pages < 20, "the walk does not end");
    }
    let mut expected: Vec<String> = ids.iter().rev().filter(|id| !deleted.contains(id)).cloned().collect();
    let mut walked = seen.clone();
    assert_eq!(walked.len(), expected.len(), "every remaining session once: {walked:?}");
    walked.sort();
    expected.sort();
    assert_eq!(walked, expected, "only the sessions that existed when the walk began, none deleted before its page");
    match h.store.list_after(7, "garbage").await {
        Err(Error::InvalidInput(message)) => assert!(message.contains("page token"), "{message}"),
        other => panic!("{other:?}"),
    }
}

async fn list_validates_limit(backend: Backend) {
    let h = backend.harness(|b| b).await;
    assert!(h.store.list(1000, 0).await.is_ok());
    match h.store.list(1001, 0).await {
        Err(Error::InvalidInput(message)) => assert!(message.contains("1000"), "{message}"),
        other => panic!("{other:?}"),
    }
}

async fn extend_ttl_only_for_live_sessions(backend: Backend) {
    let h = backend.harness(|b| b.session_ttl(Duration::from_secs(60))).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    assert_eq!(h.store.extend_ttl(&id).await, Ok(true));
    let session = h.store.get(&id).await.unwrap();
    assert_eq!(session.meta.version, 1, "extend does not count as an update");
    assert!(session.expires_in_seconds.unwrap() > 55);
    h.store.delete(&id).await.unwrap();
    assert_eq!(h.store.extend_ttl(&id).await, Ok(false));
    assert_eq!(h.store.get(&id).await, Err(Error::NotFound(id.clone())), "extend must not create anything");
    assert_eq!(h.store.extend_ttl("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10").await, Ok(false));
}

async fn expired_sessions_are_gone_and_cleaned_up(backend: Backend) {
    let ttl = Duration::from_secs(60);
    let h = backend.harness(|b| b.session_ttl(ttl)).await;
    let id = h.store.create(example()).await.unwrap().id;
    assert!(h.store.get(&id).await.is_ok());
    h.let_expire(std::slice::from_ref(&id), ttl);
    assert_eq!(h.store.get(&id).await, Err(Error::NotFound(id.clone())), "gone as soon as it expires");
    assert_eq!(h.store.extend_ttl(&id).await, Ok(false));
    let update = h.store.update(&id, SessionUpdate { name: Some("back?".into()), ..SessionUpdate::default() }).await;
    assert_eq!(update, Err(Error::NotFound(id.clone())));
    // Still indexed until cleanup, but never listed.
    let page = h.store.list(10, 0).await.unwrap();
    assert!(page.sessions.is_empty());
    assert_eq!(h.store.cleanup_expired().await.map(|r| r.removed), Ok(1));
    assert_eq!(h.store.cleanup_expired().await.map(|r| r.removed), Ok(0), "cleanup is idempotent");
    assert_eq!(h.store.list(10, 0).await.unwrap().total, 0);
    assert_eq!(h.store.delete(&id).await, Ok(false));
}

async fn cleanup_leaves_live_sessions(backend: Backend) {
    let h = backend.harness(|b| b.batch_size(7)).await;
    let short_ttl = Duration::from_secs(60);
    let short = h
        .store
        .with_settings(agent_sessions_host::Settings { session_ttl_seconds: short_ttl.as_secs(), ..h.store.settings() })
        .unwrap();
    let mut live = Vec::new();
    for _ in 0..20 {
        live.push(h.store.create(minimal("live")).await.unwrap().id);
    }
    let mut dying = Vec::new();
    for _ in 0..15 {
        dying.push(short.create(minimal("dying")).await.unwrap().id);
    }
    // The live sessions have an hour; only the short ones run out.
    h.let_expire(&dying, short_ttl);
    for id in &dying {
        assert_eq!(h.store.get(id).await, Err(Error::NotFound(id.clone())));
    }
    assert_eq!(
        h.store.cleanup_expired().await.map(|r| r.removed),
        Ok(15),
        "batches of 7 still find every expired session"
    );
    for id in &live {
        assert!(h.store.get(id).await.is_ok());
    }
    assert_eq!(h.store.list(100, 0).await.unwrap().total, 20);
}

async fn bad_inputs_are_typed_errors(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let cases: Vec<(SessionCreate, &str)> = vec![
        (minimal(""), "model_id"),
        (minimal(" "), "model_id"),
        (SessionCreate { temperature: Some(f64::NAN), ..minimal("m") }, "temperature"),
        (SessionCreate { temperature: Some(f64::NEG_INFINITY), ..minimal("m") }, "temperature"),
        (SessionCreate { temperature: Some(2.01), ..minimal("m") }, "temperature"),
        (SessionCreate { reasoning_effort: Some(-1), ..minimal("m") }, "reasoning_effort"),
        (SessionCreate { max_tokens: Some(i64::MIN), ..minimal("m") }, "max_tokens"),
        (SessionCreate { tools: vec!["ok".into(), "".into()], ..minimal("m") }, "tools[1]"),
        (SessionCreate { status: Some("zombie".into()), ..minimal("m") }, "status"),
        (SessionCreate { name: Some("n".repeat(501)), ..minimal("m") }, "name"),
        (SessionCreate { custom_prompt: Some("p".repeat(100_001)), ..minimal("m") }, "custom_prompt"),
        (SessionCreate { persona_id: Some("x".repeat(201)), ..minimal("m") }, "persona_id"),
    ];
    for (input, field) in cases {
        match h.store.create(input).await {
            Err(Error::InvalidInput(message)) => assert!(message.contains(field), "{field}: {message}"),
            other => panic!("{field}: expected invalid input, got {other:?}"),
        }
    }
    assert_eq!(h.store.list(10, 0).await.unwrap().total, 0, "nothing was written");
    let id = h.store.create(minimal("m")).await.unwrap().id;
    let bad_update = SessionUpdate { model_id: Some(String::new()), ..SessionUpdate::default() };
    assert!(matches!(h.store.update(&id, bad_update).await, Err(Error::InvalidInput(_))));
}

async fn concurrent_compare_and_set_loses_no_update(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let id = h.store.create(SessionCreate { max_tokens: Some(1), ..minimal("m") }).await.unwrap().id;
    let (tasks, increments) = (8, 10);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, id) = (h.store.clone(), id.clone());
            tokio::spawn(async move { cas_increments(&store, &id, increments).await.unwrap() })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap().0, increments);
    }
    let session = h.store.get(&id).await.unwrap();
    assert_eq!(session.data.max_tokens, Some(1 + (tasks * increments) as i64));
    assert_eq!(session.meta.version, 1 + tasks * increments);
}

async fn settings_out_of_range_are_rejected(backend: Backend) {
    let h = backend.harness(|b| b).await;
    let zero_ttl = agent_sessions_host::Settings { session_ttl_seconds: 0, ..h.store.settings() };
    assert!(matches!(h.store.with_settings(zero_ttl), Err(Error::InvalidInput(_))));
    // A builder on this backend (the same Redis for the Redis run).
    let result = h.builder().batch_size(0).build().await;
    assert!(matches!(result, Err(Error::InvalidInput(_))), "{:?}", result.err());
}

async fn stats_walks_every_session_in_small_steps(backend: Backend) {
    // Batches of 3 over 20 sessions: several steps per phase, same totals.
    let h = backend.harness(|b| b.batch_size(3)).await;
    for i in 0..20 {
        let status = if i % 4 == 0 { "completed" } else { "running" };
        h.store.create(SessionCreate { status: Some(status.into()), ..minimal("m") }).await.unwrap();
    }
    let mut steps = 0;
    let stats = h.store.stats(|_| steps += 1).await.unwrap();
    assert!(steps > 10, "{steps} steps for 20 sessions in batches of 3");
    assert_eq!((stats.sessions, stats.active, stats.inactive), (20, 15, 5));
    assert_eq!(stats.by_status, [("completed".to_owned(), 5), ("running".to_owned(), 15)].into());
    assert_eq!(stats.ttl_buckets.iter().map(|b| b.count).sum::<u64>(), 20);
    assert_eq!((stats.set_size, stats.index_size), (20, 20));
    assert_eq!(stats.members_without_keys + stats.keys_without_members + stats.keys_without_ttl, 0);
    assert!(stats.problems.is_empty(), "{:?}", stats.problems);
    assert!(stats.oldest_created_at <= stats.newest_created_at);
}
