//! The tokio runtime behind every call: the one pyo3-async-runtimes drives
//! awaitables on, so that Redis connections made for blocking calls and
//! for awaitables are served by the same I/O driver.

use std::future::Future;

use pyo3::prelude::*;

/// Runs `future` to completion on the runtime with the GIL released, so
/// other Python threads run meanwhile.
pub fn block_on<F: Future + Send>(py: Python<'_>, future: F) -> F::Output
where
    F::Output: Send,
{
    py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(future))
}
