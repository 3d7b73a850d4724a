//! # agent-sessions host
//!
//! Runs the agent-sessions component (built from `guest/`, embedded in this
//! crate) under wasmtime, with its `kv` import bound to Redis or to an
//! in-memory store, and exposes the repository as an async Rust API.
//!
//! - [`SessionStore`] (`store`): build one with [`SessionStore::builder`],
//!   then run any repository operation with [`SessionStore::call`], or its
//!   typed method (create, get, update, delete, list, ...). Errors are
//!   [`Error`].
//! - [`operations`]: the repository's operations, learned from the
//!   component's own types, and their arguments ([`Arg`]) and replies
//!   ([`Reply`]).
//! - `runtime`: engine, component, sandbox and limits ([`GuestLimits`]).
//! - [`kv`]: the storage the guest reaches: [`kv::KvStore`] (the key
//!   prefix), [`kv::redis`] (the packed batch through one Lua script) and
//!   [`kv::memory`] (unpacked and checked with the kv protocol crate,
//!   `agent-sessions-kv`); `kv::wit` adapts them to the WIT import.
//! - [`api`]: the HTTP API ([`HttpApi`]): the HTTP front component, a
//!   fresh instance per request, its `repository` import run on a
//!   [`SessionStore`] (`sessions serve --api`).
//! - `bindings`: the one `bindgen!` of the WIT world, for the imports the
//!   host provides. Documents cross as JSON of the session types in
//!   [`model`], shared with the guest crate.
//!
//! ```no_run
//! use agent_sessions_host::{SessionCreate, SessionStore};
//!
//! # async fn example() -> Result<(), agent_sessions_host::Error> {
//! let store = SessionStore::connect("redis://127.0.0.1:6379").await?;
//! let session = store
//!     .create(SessionCreate { model_id: "gpt-4".into(), ..Default::default() })
//!     .await?;
//! let again = store.get(&session.id).await?;
//! assert_eq!(again.data.model_id, "gpt-4");
//! # Ok(())
//! # }
//! ```

pub mod api;
mod bindings;
mod error;
pub mod kv;
pub mod metrics;
pub mod operations;
mod runtime;
mod store;

pub use agent_sessions_guest::conversation;
pub use agent_sessions_guest::model;
pub use agent_sessions_guest::model::{
    CleanupReport, ConflictPolicy, Corruption, DataField, ExportPage, ImportRecord, ImportReport, MigratePage,
    RejectReason, RejectedRecord, Session, SessionCreate, SessionData, SessionMeta, SessionPage, SessionStats,
    SessionUpdate, StatsPage, StoredSession, TtlBucket,
};
pub use agent_sessions_guest::settings::{
    DEFAULT_BATCH_SIZE, DEFAULT_GRACE_SECONDS, DEFAULT_SESSION_TTL_SECONDS, Settings,
};
pub use agent_sessions_guest::shard::DEFAULT_SHARDS;
pub use agent_sessions_guest::timestamp::Timestamp;
pub use agent_sessions_guest::validation;
pub use api::HttpApi;
pub use error::Error;
pub use kv::redis::{RedisOptions, WaitReplicas};
pub use operations::{Arg, Operation, Operations, ParamType, Reply};
pub use runtime::{ComponentSource, EMBEDDED_COMPONENT, GuestLimits};
pub use store::{Health, SessionStore, SessionStoreBuilder, StorageConfig};
