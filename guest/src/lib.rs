//! # agent-sessions guest
//!
//! Every session rule of agent-sessions, written as plain Rust over a small
//! storage trait, and compiled to a WebAssembly component (wasm32-wasip2)
//! whose only way to storage is the imported `kv` interface.
//!
//! - [`repository`] and [`ops`]: the operations of the design document
//!   (create, get, update, delete, list, extend_ttl, cleanup_expired) plus
//!   reindex, one file each under `ops/`.
//! - [`keys`]: the Redis key layout. [`encoding`]: hash fields and their
//!   string encodings. [`timestamp`]: the time format. [`validation`]: input
//!   rules and limits. [`id`]: session ids.
//! - [`kv`]: the storage vocabulary (batches of conditions and ops) and the
//!   [`kv::Storage`] trait; [`environment`]: clock and randomness;
//!   [`settings`]: what the host configures.
//! - `component` (wasm32 only): the thin wit-bindgen layer that turns WIT
//!   calls into [`Repository`] calls.
//!
//! Natively, the same rules run over any [`kv::Storage`], for unit tests and
//! for measuring the component's overhead against native code.

pub mod conversation;
pub mod encoding;
pub mod environment;
pub mod error;
pub mod id;
pub mod keys;
pub mod model;
mod ops;
pub mod repository;
pub mod settings;
pub mod shard;
pub mod timestamp;
pub mod validation;

/// The storage vocabulary, its packed form and the batch rules: the
/// `agent-sessions-kv` crate, under the name the rules use.
pub use agent_sessions_kv as kv;

#[cfg(target_arch = "wasm32")]
mod component;

pub use environment::{Environment, SystemEnvironment};
pub use error::SessionError;
pub use model::{CleanupReport, Corruption, DataField, Session, SessionCreate, SessionPage, SessionUpdate};
pub use repository::Repository;
pub use settings::Settings;
