//! # agent-sessions kv-redis
//!
//! A component that gives the session component its storage inside a
//! standard wasm runtime: it exports `agent:sessions/kv` and
//! `agent:sessions/config` (world `kv-redis` of `wit/sessions.wit`) and
//! reaches one Redis server over `wasi:sockets` with redis-rs's sync
//! client. It does what the WIT `kv` comment asks of a host and nothing
//! more: prefix the keys, `EVALSHA` of `redis/kv_batch.lua` (`SCRIPT LOAD`
//! on `NOSCRIPT`), the reply as it is.
//!
//! Composed with the session component (`tools/compose`), it is the only
//! instance that imports `wasi:sockets`. Configuration comes from
//! environment variables (`wasi:cli/environment`): see [`config`].
//!
//! One Redis server, `redis://` only: no TLS inside wasm, no Cluster.
//!
//! Everything but the WIT glue is plain Rust and builds natively, so the
//! tests run it against a real redis-server without a wasm runtime.

pub mod config;
pub mod redis_kv;

#[cfg(target_arch = "wasm32")]
mod component;

pub use config::{Config, Settings};
pub use redis_kv::RedisKv;
