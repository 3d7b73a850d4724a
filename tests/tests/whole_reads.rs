//! `get-items` with `whole`: every item a query selects in one page. Past
//! 16 MiB of items it is refused, on every backend through the component.
//! A session that changes between pages is read again from the first page,
//! and one that keeps changing is a conflict: shown natively (the guest's
//! `Repository` over the in-memory backend, with a `Storage` that lets
//! another writer append after each page), deterministic, no timing.

use agent_sessions_host::Error;
use agent_sessions_host::conversation::{ItemsAppend, ItemsQuery};
use agent_sessions_tests::{Backend, minimal, on_both_backends};
use serde_json::value::RawValue;

on_both_backends!(a_whole_read_past_16_mib_is_refused);

fn append(items: Vec<Box<RawValue>>) -> ItemsAppend {
    ItemsAppend {
        items,
        expected_version: None,
        keep_last: None,
        owner: None,
        state_delta: None,
        create_if_missing: None,
    }
}

fn whole(last: Option<u32>) -> ItemsQuery {
    ItemsQuery { whole: true, last, ..ItemsQuery::default() }
}

async fn a_whole_read_past_16_mib_is_refused(backend: Backend) {
    let h = backend.harness(|builder| builder).await;
    let id = h.store.create(minimal("m")).await.unwrap().id;
    // 36 items of 500,000 bytes (18 MB), four per append (2 MB, the most
    // one append takes).
    let item = RawValue::from_string(format!("\"{}\"", "x".repeat(499_998))).unwrap();
    for _ in 0..9 {
        h.store.append_items(&id, &append(vec![item.clone(); 4])).await.unwrap();
    }

    // 33 of them (16.5 MB) are within the limit, in one page;
    // `get_all_items` is `get_items` with `whole`.
    let newest = ItemsQuery { last: Some(33), ..ItemsQuery::default() };
    let page = h.store.get_all_items(&id, newest).await.unwrap();
    assert_eq!((page.items.len(), page.total, page.first_index, page.left_out), (33, 36, 3, 0));
    assert!(page.items.iter().all(|read| read.get() == item.get()));

    for query in [whole(Some(34)), whole(None)] {
        match h.store.get_items(&id, &query).await {
            Err(Error::InvalidInput(message)) => {
                assert!(message.contains("16 MiB") && message.contains("by range"), "{message}");
                assert!(message.contains(&format!("{} items", query.last.unwrap_or(36))), "{message}");
            }
            other => panic!("{query:?}: expected invalid input, got {other:?}"),
        }
    }
}

mod restarts {
    use agent_sessions_guest::conversation::{ItemsAppend, ItemsQuery};
    use agent_sessions_guest::kv::{Batch, BatchOutcome, KvError, Op, Storage};
    use agent_sessions_guest::{Repository, SessionCreate, SessionError, Settings, SystemEnvironment};
    use agent_sessions_host::kv::memory::MemoryBackend;
    use serde_json::value::RawValue;

    /// The backend as is.
    struct Plain(MemoryBackend);

    impl Storage for Plain {
        fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
            self.0.execute(&batch)
        }
    }

    /// Another writer appends an item after each read of items, `writes`
    /// times.
    struct Changing {
        backend: MemoryBackend,
        writes: usize,
    }

    impl Storage for Changing {
        fn execute(&mut self, batch: Batch) -> Result<BatchOutcome, KvError> {
            let reads_items = batch.ops.iter().any(|op| matches!(op, Op::ListRangeTail { .. }));
            let outcome = self.backend.execute(&batch);
            if reads_items && self.writes > 0 {
                self.writes -= 1;
                repository(Plain(self.backend.clone())).append_items("conv", numbers(9_000..9_001)).unwrap();
            }
            outcome
        }
    }

    fn repository<S: Storage>(storage: S) -> Repository<S, SystemEnvironment> {
        Repository::new(storage, SystemEnvironment, Settings::default()).unwrap()
    }

    fn numbers(range: std::ops::Range<u32>) -> ItemsAppend {
        ItemsAppend {
            items: range.map(|n| RawValue::from_string(n.to_string()).unwrap()).collect(),
            expected_version: None,
            keep_last: None,
            owner: None,
            state_delta: None,
            create_if_missing: None,
        }
    }

    /// A session "conv" of 1200 items (0 to 1199), at version 3.
    fn conversation() -> MemoryBackend {
        let backend = MemoryBackend::new();
        let mut writer = repository(Plain(backend.clone()));
        let create = SessionCreate { id: Some("conv".into()), model_id: "m".into(), ..SessionCreate::default() };
        writer.create(create).unwrap();
        writer.append_items("conv", numbers(0..1000)).unwrap();
        writer.append_items("conv", numbers(1000..1200)).unwrap();
        backend
    }

    fn whole() -> ItemsQuery {
        ItemsQuery { whole: true, ..ItemsQuery::default() }
    }

    #[test]
    fn a_change_between_pages_starts_the_read_over() {
        let backend = conversation();
        let mut reader = repository(Changing { backend, writes: 1 });
        let page = reader.get_items("conv", whole()).unwrap();
        // The read that saw the change was dropped; the second one is of
        // the session after it, whole and at one version.
        assert_eq!((page.total, page.version, page.first_index, page.left_out), (1201, 4, 0, 0));
        let read: Vec<&str> = page.items.iter().map(|item| item.get()).collect();
        let expected: Vec<String> = (0..1200).chain([9_000]).map(|n: u32| n.to_string()).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_session_that_keeps_changing_is_a_conflict() {
        let backend = conversation();
        let mut reader = repository(Changing { backend: backend.clone(), writes: usize::MAX });
        match reader.get_items("conv", whole()) {
            Err(SessionError::Conflict(message)) => assert!(message.contains("kept changing"), "{message}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // One page is one read: a query within one read never restarts.
        let mut reader = repository(Changing { backend, writes: usize::MAX });
        let page = reader.get_items("conv", ItemsQuery { last: Some(10), ..whole() }).unwrap();
        assert_eq!((page.items.len(), page.left_out), (10, 0));
    }
}
