//! Support for the integration tests in `tests/tests/`: real `redis-server`
//! processes, stores over both backends, and direct reads of Redis.

pub mod deployment;
pub mod invariants;
pub mod redis_cluster;
pub mod redis_server;
pub mod sharded_view;

use std::time::Duration;

use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::Layout;
use agent_sessions_host::kv::memory::{ManualClock, MemoryBackend};
use agent_sessions_host::{Error, SessionCreate, SessionStore, SessionStoreBuilder, SessionUpdate};
pub use redis_cluster::RedisCluster;
pub use redis_server::RedisServer;

/// A store under test, with the Redis server behind it (if any) kept alive.
pub struct Harness {
    pub store: SessionStore,
    pub redis: Option<RedisServer>,
    /// The in-memory store's clock (none for Redis): time only moves when a
    /// test moves it.
    pub clock: Option<ManualClock>,
}

impl Harness {
    /// An in-memory store on a manual clock.
    pub async fn memory(configure: impl FnOnce(SessionStoreBuilder) -> SessionStoreBuilder) -> Self {
        let clock = ManualClock::new();
        let backend = MemoryBackend::with_clock(clock.clone());
        let store =
            configure(SessionStore::builder().memory_backend(backend)).build().await.expect("build in-memory store");
        Harness { store, redis: None, clock: Some(clock) }
    }

    /// A store over a fresh redis-server.
    pub async fn redis(configure: impl FnOnce(SessionStoreBuilder) -> SessionStoreBuilder) -> Self {
        let redis = RedisServer::start();
        let store = configure(SessionStore::builder().redis(redis.url())).build().await.expect("build Redis store");
        Harness { store, redis: Some(redis), clock: None }
    }

    /// The Redis server; panics for the in-memory harness.
    pub fn server(&self) -> &RedisServer {
        self.redis.as_ref().expect("this harness has no Redis server")
    }

    /// A builder on the same storage as this harness (same Redis, or a new
    /// in-memory store), for building other stores next to it.
    pub fn builder(&self) -> SessionStoreBuilder {
        match &self.redis {
            Some(redis) => SessionStore::builder().redis(redis.url()),
            None => SessionStore::builder().memory(),
        }
    }

    /// Lets `ttl` pass for the sessions `ids`, whose TTL is at most `ttl`,
    /// without waiting: the in-memory store's clock moves on by `ttl` (so
    /// every session with less time left expires too), and on Redis their
    /// expiry keys are deleted, which is what Redis does when a TTL runs
    /// out. The hashes stay for their grace period on both backends.
    pub fn let_expire(&self, ids: &[String], ttl: Duration) {
        match (&self.clock, &self.redis) {
            (Some(clock), _) => clock.advance(ttl),
            (None, Some(redis)) => {
                expire_on_redis(&mut redis.connection(), self.store.prefix(), self.store.settings().layout(), ids)
            }
            (None, None) => unreachable!("a harness is in memory or on Redis"),
        }
    }
}

/// Expires the sessions `ids` on Redis at once, as their TTL running out
/// would: deletes each expiry key (`{prefix}session_expiry:{id}` in the
/// document's layout, as conformance scenario 008 does), and checks each
/// was there.
pub fn expire_on_redis(connection: &mut redis::Connection, prefix: &str, layout: Layout, ids: &[String]) {
    let mut pipeline = redis::pipe();
    for id in ids {
        let id = SessionId::parse(id).expect("a session id");
        pipeline.cmd("DEL").arg(format!("{prefix}{}", layout.session_keys(&id).expiry));
    }
    let deleted: Vec<u64> = pipeline.query(connection).expect("delete the expiry keys");
    assert!(deleted.iter().all(|&n| n == 1), "some expiry keys were already gone: {deleted:?}");
}

/// The design document's example session (`schema/examples/session-data.json`).
pub fn example() -> SessionCreate {
    SessionCreate::example()
}

/// A session with only the required field.
pub fn minimal(model_id: &str) -> SessionCreate {
    SessionCreate { model_id: model_id.into(), ..SessionCreate::default() }
}

/// Shards of the sharded layout in tests: enough that sessions spread.
pub const SHARDS_UNDER_TEST: u32 = 8;

/// Which backend a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    /// Redis with the sharded layout (8 shards).
    RedisSharded,
}

impl Backend {
    pub async fn harness(self, configure: impl FnOnce(SessionStoreBuilder) -> SessionStoreBuilder) -> Harness {
        match self {
            Backend::Memory => Harness::memory(configure).await,
            Backend::Redis => Harness::redis(configure).await,
            Backend::RedisSharded => Harness::redis(|builder| configure(builder.shards(SHARDS_UNDER_TEST))).await,
        }
    }
}

/// Runs each listed scenario `async fn name(backend: Backend)` as two tests,
/// `memory::name` and `redis::name`, so both backends meet the same contract.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Redis).await
                }
            )*
        }
        mod redis_sharded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::RedisSharded).await
                }
            )*
        }
    };
}

/// Applies `updates` read-modify-write increments of `max_tokens` with
/// compare-and-set, retrying on conflict. Returns (applied, conflicts).
pub async fn cas_increments(store: &SessionStore, id: &str, updates: u64) -> Result<(u64, u64), Error> {
    let (mut applied, mut conflicts) = (0, 0);
    while applied < updates {
        let current = store.get(id).await?;
        let change = SessionUpdate {
            max_tokens: Some(current.data.max_tokens.unwrap_or(0) + 1),
            expected_version: Some(current.meta.version),
            ..SessionUpdate::default()
        };
        match store.update(id, change).await {
            Ok(_) => applied += 1,
            Err(Error::Conflict(_)) => conflicts += 1,
            Err(other) => return Err(other),
        }
    }
    Ok((applied, conflicts))
}

/// A redis-server stopped with SIGSTOP: it accepts nothing and answers
/// nothing, for as long as the test needs (unlike `CLIENT PAUSE`, which has
/// a fixed length and whose `UNPAUSE` waits behind the pause). Sent SIGCONT
/// when dropped; commands sent meanwhile then run.
pub struct Frozen {
    pid: String,
}

impl Frozen {
    pub fn freeze(server: &RedisServer) -> Self {
        let info: String = redis::cmd("INFO").arg("server").query(&mut server.connection()).expect("INFO server");
        let pid = info
            .lines()
            .find_map(|line| line.strip_prefix("process_id:"))
            .expect("INFO server names the process id")
            .trim()
            .to_owned();
        signal(&pid, "-STOP");
        Frozen { pid }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(&self.pid, "-CONT");
    }
}

fn signal(pid: &str, signal: &str) {
    let status = std::process::Command::new("kill").args([signal, pid]).status().expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}
