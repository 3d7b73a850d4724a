//! `agent_sessions._native`: the Rust host (wasmtime, the embedded and
//! precompiled component, redis-rs or the in-memory store) as a Python
//! extension module. The Python package's `SessionRepository` and
//! `AsyncSessionRepository` sit on top of [`NativeStore`]; this crate only
//! moves JSON documents and errors across, every rule stays in the
//! component.
//!
//! - `store`: [`NativeStore`], one entry point for every repository
//!   operation (`call`, blocking with the GIL released, and `call_async`).
//! - `errors`: the host's errors as the package's exception classes.
//! - `runtime`: the one tokio runtime that drives Redis and the awaitables.

mod errors;
mod runtime;
mod store;

use pyo3::prelude::*;

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<store::NativeStore>()?;
    Ok(())
}
