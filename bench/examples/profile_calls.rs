//! Times one operation many times on one path, for profilers:
//! `profile_calls PATH COUNT [REDIS_URL|memory] [CONCURRENCY]` with PATH
//! component, native or kv (a bare kv batch: the Redis floor of a `get`).
//! Runs on one thread, as one of `make bench`'s threads does.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use agent_sessions_bench::paths::{Op, Path, PathKind};
use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::SessionKeys;
use agent_sessions_guest::kv::{Batch, Op as KvOp};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or_else(|| "component".into());
    let calls: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let url = args.get(3).cloned().unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let concurrency: usize = args.get(4).and_then(|n| n.parse().ok()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let kind = if path == "native" { PathKind::Native } else { PathKind::Component };
        let store = Path::connect(kind, &url).await.unwrap();
        let id = store.run(Op::Create, "", 0).await.unwrap().unwrap();
        let keys = SessionKeys::new(&SessionId::parse(&id).unwrap());
        let next = Rc::new(Cell::new(0usize));
        let started = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (store, id, keys, next, path) =
                    (store.clone(), id.clone(), keys.clone(), next.clone(), path.clone());
                tokio::task::spawn_local(async move {
                    loop {
                        let n = next.get();
                        if n >= calls {
                            break;
                        }
                        next.set(n + 1);
                        if path == "kv" {
                            let ops = vec![
                                KvOp::TtlMs(keys.expiry.clone()),
                                KvOp::HashGetAll(keys.data.clone()),
                                KvOp::HashGetAll(keys.meta.clone()),
                            ];
                            store.kv().execute(&Batch { conditions: vec![], ops }).await.unwrap();
                        } else {
                            store.run(Op::Get, &id, n).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        println!("{path}: {calls} gets at concurrency {concurrency}, {:?} per call", started.elapsed() / calls as u32);
    });
}
