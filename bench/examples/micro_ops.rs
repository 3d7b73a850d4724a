use agent_sessions_host::{SessionCreate, SessionStore};
use std::time::Instant;
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let store = SessionStore::in_memory().await.unwrap();
    let id = store.create(SessionCreate { model_id: "gpt-4".into(), ..Default::default() }).await.unwrap().id;
    let n = 100_000;
    for round in 0..2 {
        let t = Instant::now();
        for _ in 0..n {
            store.list(0, 0).await.unwrap();
        }
        let list0 = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            store.extend_ttl(&id).await.unwrap();
        }
        let extend = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            store.get(&id).await.unwrap();
        }
        let get = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            store.get("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10").await.unwrap_err();
        }
        let miss = t.elapsed() / n;
        println!("round {round}: list(0,0) {list0:?}  extend {extend:?}  get {get:?}  get-missing {miss:?}");
    }
}
