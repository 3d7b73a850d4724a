//! The host's errors as the exception classes of `agent_sessions.errors`.

use agent_sessions_host::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

static ERRORS_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS_MODULE.get_or_try_init(py, || py.import("agent_sessions.errors").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}

/// The Python exception for `error`.
pub fn to_py(error: Error) -> PyErr {
    Python::attach(|py| from_host(py, &error))
}

fn from_host(py: Python<'_>, error: &Error) -> PyErr {
    match exception(py, error) {
        Ok(exception) => PyErr::from_value(exception),
        Err(failure) => failure,
    }
}

/// Why a call failed, kept without the GIL until the thread that raises it
/// holds it.
pub enum Failure {
    Host(Error),
    Python(PyErr),
}

impl Failure {
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Host(error) => from_host(py, &error),
            Failure::Python(error) => error,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Host(error)
    }
}

impl From<PyErr> for Failure {
    fn from(error: PyErr) -> Self {
        Failure::Python(error)
    }
}

fn exception<'py>(py: Python<'py>, error: &Error) -> PyResult<Bound<'py, PyAny>> {
    let message = error.to_string();
    match error {
        Error::InvalidInput(text) => class(py, "InvalidInputError")?.call1((text,)),
        Error::NotFound(_) => class(py, "SessionNotFoundError")?.call1((message,)),
        Error::Conflict(text) => class(py, "ConflictError")?.call1((text,)),
        Error::DataCorrupt(corruption) => {
            let keywords = PyDict::new(py);
            keywords.set_item("session_id", &corruption.session_id)?;
            keywords.set_item("key", &corruption.key)?;
            keywords.set_item("field", &corruption.field)?;
            keywords.set_item("detail", &corruption.message)?;
            let message = format!("session {}: {message}", corruption.session_id);
            class(py, "DataCorruptError")?.call((message,), Some(&keywords))
        }
        Error::Unavailable(_) | Error::StorageTimeout(_) | Error::Backend { .. } | Error::Timeout(_) => {
            let kind = match error {
                Error::Timeout(_) => "timeout",
                _ => error.storage_kind().map_or("other", |kind| kind.as_str()),
            };
            let message = match error {
                Error::Unavailable(text) | Error::StorageTimeout(text) | Error::Backend { message: text, .. } => text,
                _ => &message,
            };
            let keywords = PyDict::new(py);
            keywords.set_item("storage_kind", kind)?;
            class(py, "BackendError")?.call((message,), Some(&keywords))
        }
        Error::NotReplicated(text) => {
            let keywords = PyDict::new(py);
            keywords.set_item("storage_kind", "not_replicated")?;
            class(py, "NotReplicatedError")?.call((text,), Some(&keywords))
        }
        Error::Guest(_) | Error::Setup(_) => class(py, "ComponentError")?.call1((message,)),
    }
}
