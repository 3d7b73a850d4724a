//! The guest runs within limits the host sets; hitting one is a typed
//! error, and the store keeps serving afterwards.

use std::time::Duration;

use agent_sessions_host::{Error, GuestLimits, SessionCreate, SessionStore};
use agent_sessions_tests::RedisServer;

fn create() -> SessionCreate {
    SessionCreate { model_id: "gpt-4".into(), ..SessionCreate::default() }
}

#[tokio::test]
async fn running_out_of_fuel_is_a_typed_error() {
    let limits = GuestLimits { fuel: 20_000, ..GuestLimits::default() };
    let store = SessionStore::builder().memory().limits(limits).build().await.unwrap();
    for _ in 0..2 {
        match store.create(create()).await {
            Err(Error::Guest(message)) => assert!(message.contains("CPU budget"), "{message}"),
            other => panic!("expected a guest error, got {other:?}"),
        }
    }
    let healthy = SessionStore::builder().memory().build().await.unwrap();
    assert!(healthy.create(create()).await.is_ok());
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

#[tokio::test]
async fn a_paused_redis_times_out_and_the_store_recovers() {
    let redis = RedisServer::start();
    let limits = GuestLimits { timeout: Duration::from_millis(300), ..GuestLimits::default() };
    let store = SessionStore::builder().redis(redis.url()).limits(limits).build().await.unwrap();
    let id = store.create(create()).await.unwrap().id;
    let mut r = redis.connection();
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(1500).arg("ALL").query(&mut r).unwrap();
    match store.get(&id).await {
        Err(Error::Timeout(limit)) => assert_eq!(limit, Duration::from_millis(300)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut r).unwrap();
    assert_eq!(store.get(&id).await.unwrap().id, id, "the next call works");
}
