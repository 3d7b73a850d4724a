//! The HTTP front of agent-sessions: a JSON REST API over the repository,
//! built as a wasi:http component (`component.rs`, wasm only) whose one
//! import is `agent:sessions/repository`. Everything else here is plain
//! Rust over a [`Repository`] trait, so the HTTP mapping is unit-tested
//! natively.
//!
//! The route table (`routes.rs`) owns the routes: the router and the
//! OpenAPI document are both derived from it.

pub mod conditional;
pub mod config;
pub mod handler;
pub mod openapi;
pub mod problem;
pub mod repository;
pub mod router;
pub mod routes;

#[cfg(target_arch = "wasm32")]
mod component;

pub use config::Config;
pub use handler::{BodyError, Front, Request, Response};
pub use repository::{RepoError, RepoResult, Repository, StorageKind};
