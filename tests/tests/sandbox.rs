//! The guest runs within limits the host sets; hitting one is a typed
//! error, and the store keeps serving afterwards.

use std::time::Duration;

use agent_sessions_host::{Error, GuestLimits, SessionCreate, SessionStore};

fn create() -> SessionCreate {
    SessionCreate { model_id: "gpt-4".into(), ..SessionCreate::default() }
}

#[tokio::test]
async fn a_memory_limit_below_the_guest_needs_is_a_typed_error() {
    let limits = GuestLimits { memory_bytes: 64 * 1024, ..GuestLimits::default() };
    let store = SessionStore::builder().memory().limits(limits).build().await.unwrap();
    match store.create(create()).await {
        Err(Error::Guest(message)) => assert!(message.contains("memory limit"), "{message}"),
        other => panic!("expected a guest error, got {other:?}"),
    }
}

/// A store running the hostile component under small limits.
async fn hostile(limits: GuestLimits) -> SessionStore {
    SessionStore::builder()
        .memory()
        .component_file(env!("HOSTILE_COMPONENT"))
        .limits(limits)
        .build()
        .await
        .expect("load the hostile component")
}

const STRICT: GuestLimits =
    GuestLimits { memory_bytes: 16 << 20, cpu_time: Duration::from_millis(200), timeout: Duration::from_secs(20) };

/// After any misbehaviour, the same store still answers the next call.
async fn still_serving(store: &SessionStore) {
    let id = "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10";
    assert_eq!(store.get(id).await, Err(Error::NotFound(id.into())));
}

#[tokio::test]
async fn a_guest_that_loops_forever_hits_the_cpu_limit() {
    let store = hostile(STRICT).await;
    match store.get("loop").await {
        Err(Error::Guest(message)) => assert!(message.contains("CPU budget"), "{message}"),
        other => panic!("{other:?}"),
    }
    still_serving(&store).await;
}

#[tokio::test]
async fn a_guest_that_loops_forever_hits_the_time_limit_when_cpu_time_is_ample() {
    let limits = GuestLimits { cpu_time: Duration::from_secs(3600), timeout: Duration::from_millis(300), ..STRICT };
    let store = hostile(limits).await;
    assert_eq!(store.get("loop").await, Err(Error::Timeout(Duration::from_millis(300))));
    still_serving(&store).await;
}

#[tokio::test]
async fn a_guest_that_grows_memory_without_end_hits_the_memory_limit() {
    let store = hostile(STRICT).await;
    match store.get("grow").await {
        Err(Error::Guest(message)) => assert!(message.contains("memory limit (16 MiB)"), "{message}"),
        other => panic!("{other:?}"),
    }
    still_serving(&store).await;
}

#[tokio::test]
async fn a_guest_that_traps_is_a_typed_error() {
    let store = hostile(STRICT).await;
    for misbehaviour in ["trap", "recurse"] {
        match store.get(misbehaviour).await {
            Err(Error::Guest(message)) => assert!(message.contains("trapped"), "{misbehaviour}: {message}"),
            other => panic!("{misbehaviour}: {other:?}"),
        }
        still_serving(&store).await;
    }
}

#[tokio::test]
async fn misbehaving_calls_in_parallel_do_not_disturb_each_other() {
    let store = hostile(STRICT).await;
    let calls: Vec<_> = ["loop", "grow", "trap", "recurse", "fine"]
        .into_iter()
        .map(|what| {
            let store = store.clone();
            tokio::spawn(async move { (what, store.get(what).await) })
        })
        .collect();
    for call in calls {
        let (what, result) = call.await.unwrap();
        match (what, result) {
            ("fine", Err(Error::NotFound(_))) => {}
            ("fine", other) => panic!("fine: {other:?}"),
            (_, Err(Error::Guest(_))) => {}
            (what, other) => panic!("{what}: {other:?}"),
        }
    }
}
