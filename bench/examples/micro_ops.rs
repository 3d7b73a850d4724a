//! Per-call cost of each operation on the in-memory store, component
//! against native: the sandbox's overhead without Redis in the way.
//! `micro_ops [CALLS]`

use std::time::{Duration, Instant};

use agent_sessions_bench::paths::{Op, Path, PathKind};

fn main() {
    let calls: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(50_000);
    let url = std::env::args().nth(2).unwrap_or_else(|| "memory".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        for kind in [PathKind::Native, PathKind::Component] {
            let path = Path::connect(kind, &url).await.unwrap();
            let mut ids = Vec::new();
            for n in 0..100 {
                ids.push(path.run(Op::Create, "", n).await.unwrap().unwrap());
            }
            let mut line = format!("{:<9}", kind.name());
            for op in [Op::Get, Op::Update, Op::Extend, Op::List] {
                let started = Instant::now();
                for n in 0..calls {
                    path.run(op, &ids[n % ids.len()], n % 10).await.unwrap();
                }
                let per_call: Duration = started.elapsed() / calls as u32;
                line.push_str(&format!("  {} {:>6.2} us", op.name(), per_call.as_secs_f64() * 1e6));
            }
            println!("{line}");
        }
    });
}
