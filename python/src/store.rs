//! [`NativeStore`]: one `SessionStore` of the Rust host, for Python.
//!
//! Every repository operation goes through one pair of methods, over the
//! host's generic path (`SessionStore::call`): `call("get", id)` blocks the
//! calling thread with the GIL released, `call_async("get", id)` returns an
//! awaitable driven by the shared tokio runtime. No operation is named
//! here: a new export of the component is callable as soon as the guest
//! implements it. A blocking call runs on a [`Lane`]: a current-thread
//! runtime with a Redis connection of its own, which the calling thread
//! drives itself, so the call never waits for another thread to wake up
//! (about 30 µs of a `get` on the 2-core machine this was measured on).
//! Arguments are str, bool or int; documents cross as JSON text in the
//! shared schema, which the Python package turns into its dataclasses.
//!
//! Cancelling an awaitable drops the call: its instance is discarded, not
//! reused, and a write batch already sent to Redis still applies whole or
//! not at all (one script call), so nothing is left half-written.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_sessions_host::kv::memory::{ManualClock, MemoryBackend};
use agent_sessions_host::{
    Arg, Error, GuestLimits, RedisOptions, Reply, SessionStore, SessionStoreBuilder, WaitReplicas,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString, PyTuple};
use pyo3::{IntoPyObject, IntoPyObjectExt};

use crate::errors;
use crate::runtime::block_on;

/// The Rust host's session store (`agent_sessions._native.NativeStore`).
#[pyclass(frozen, module = "agent_sessions._native")]
pub struct NativeStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Built on first use, so a repository can be made before Redis is up
    /// (as with redis-py); `None` again after `close`.
    store: Mutex<Option<SessionStore>>,
    builder: SessionStoreBuilder,
    closed: std::sync::atomic::AtomicBool,
    opening: tokio::sync::Mutex<()>,
    /// Idle lanes for blocking calls, one taken per call in flight.
    lanes: Mutex<Vec<Lane>>,
    clock: Option<ManualClock>,
    /// The process that made the store: a forked child has no runtime
    /// threads, so it must make its own store.
    pid: u32,
}

/// Lanes kept idle at most; more calls at once make lanes that are
/// dropped afterwards.
const MAX_IDLE_LANES: usize = 32;

/// A current-thread runtime and a store on a connection it drives.
struct Lane {
    runtime: Option<tokio::runtime::Runtime>,
    store: SessionStore,
}

impl Drop for Lane {
    fn drop(&mut self) {
        // Dropping a runtime may block, which panics on a runtime thread
        // (where the last reference to a store can go); this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Lane {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().expect("a lane has its runtime until dropped").block_on(future)
    }
}

impl Inner {
    /// An idle lane, or a new one (on a new connection to the store's Redis).
    fn take_lane(&self, py: Python<'_>) -> PyResult<Lane> {
        if let Some(lane) = self.lanes.lock().expect("lanes lock").pop() {
            return Ok(lane);
        }
        let shared = block_on(py, self.store())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start a runtime for blocking calls: {e}")))?;
        let store = py.detach(|| runtime.block_on(shared.with_own_connection())).map_err(errors::to_py)?;
        Ok(Lane { runtime: Some(runtime), store })
    }

    fn give_back(&self, lane: Lane) {
        let mut lanes = self.lanes.lock().expect("lanes lock");
        if lanes.len() < MAX_IDLE_LANES && !self.closed.load(std::sync::atomic::Ordering::Acquire) {
            lanes.push(lane);
        }
    }

    async fn store(&self) -> Result<SessionStore, PyErr> {
        self.check_usable()?;
        if let Some(store) = self.store.lock().expect("store lock").clone() {
            return Ok(store);
        }
        let _opening = self.opening.lock().await;
        if let Some(store) = self.store.lock().expect("store lock").clone() {
            return Ok(store);
        }
        self.check_usable()?;
        let store = self.builder.clone().build().await.map_err(errors::to_py)?;
        *self.store.lock().expect("store lock") = Some(store.clone());
        Ok(store)
    }

    fn check_usable(&self) -> PyResult<()> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(PyRuntimeError::new_err("this session repository is closed"));
        }
        if std::process::id() != self.pid {
            return Err(PyRuntimeError::new_err(
                "this session repository was made in another process (before a fork); make one in this process",
            ));
        }
        Ok(())
    }
}

/// Runs one operation on a lane, with the GIL released.
fn blocking<T, F, Fut>(py: Python<'_>, inner: &Arc<Inner>, operation: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(SessionStore) -> Fut + Send,
    Fut: Future<Output = Result<T, Error>> + Send,
{
    inner.check_usable()?;
    let lane = inner.take_lane(py)?;
    let result = py.detach(|| lane.block_on(operation(lane.store.clone())));
    inner.give_back(lane);
    result.map_err(errors::to_py)
}

/// Starts one operation on the runtime and returns its awaitable.
fn awaitable<'py, T, F, Fut>(py: Python<'py>, inner: &Arc<Inner>, operation: F) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    F: FnOnce(SessionStore) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    inner.check_usable()?;
    let inner = inner.clone();
    crate::runtime::awaitable(py, async move {
        let store = inner.store().await?;
        Ok(operation(store).await?)
    })
}

/// An operation's arguments as the host takes them: str, bool or a whole
/// number from 0 to 2^64 - 1 (the host checks each against the parameter's
/// WIT type).
fn arguments(export: &str, args: &Bound<'_, PyTuple>) -> PyResult<Vec<Arg>> {
    let wrong = |position: usize, why: String| {
        errors::to_py(Error::InvalidInput(format!("{export}: argument {} {why}", position + 1)))
    };
    args.iter()
        .enumerate()
        .map(|(position, arg)| {
            if let Ok(text) = arg.cast::<PyString>() {
                Ok(Arg::Text(text.to_str()?.to_owned()))
            } else if let Ok(value) = arg.cast::<PyBool>() {
                Ok(Arg::Bool(value.is_true()))
            } else if arg.is_instance_of::<PyInt>() {
                let value = arg.extract::<u64>().map_err(|_| {
                    wrong(position, format!("must be a whole number from 0 to {}, not {arg}", u64::MAX))
                })?;
                Ok(Arg::Int(value))
            } else {
                let kind = arg.get_type().name().map_or_else(|_| "?".to_owned(), |name| name.to_string());
                Err(wrong(position, format!("must be a str, bool or int, not {kind}")))
            }
        })
        .collect()
}

/// A reply as Python's str, bool or int.
struct Value(Reply);

impl<'py> IntoPyObject<'py> for Value {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Reply::Text(text) => text.into_bound_py_any(py),
            Reply::Bool(value) => value.into_bound_py_any(py),
            Reply::Int(value) => value.into_bound_py_any(py),
        }
    }
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| PyValueError::new_err(format!("{name} must be a positive number of seconds, not {value}")))
}

#[pymethods]
impl NativeStore {
    /// Redis at `redis_url`, or the in-memory store when it is None (with
    /// a clock that only `advance_clock` moves when `manual_clock`).
    #[new]
    #[pyo3(signature = (
        redis_url, *, prefix, ttl, grace, batch_size, memory_limit, time_limit, socket_timeout,
        connect_timeout, component=None, manual_clock=false, shards=None, cluster=false, wait_replicas=None,
        wait_timeout=0.25,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        redis_url: Option<String>,
        prefix: String,
        ttl: u64,
        grace: u64,
        batch_size: u32,
        memory_limit: usize,
        time_limit: f64,
        socket_timeout: f64,
        connect_timeout: f64,
        component: Option<PathBuf>,
        manual_clock: bool,
        shards: Option<u32>,
        cluster: bool,
        wait_replicas: Option<u32>,
        wait_timeout: f64,
    ) -> PyResult<Self> {
        let timeout = seconds("time_limit", time_limit)?;
        let defaults = GuestLimits::default();
        let limits = GuestLimits { memory_bytes: memory_limit, cpu_time: defaults.cpu_time.min(timeout), timeout };
        let mut builder = SessionStore::builder()
            .prefix(prefix)
            .session_ttl(Duration::from_secs(ttl))
            .grace_period(Duration::from_secs(grace))
            .batch_size(batch_size)
            .limits(limits);
        if let Some(path) = component {
            if !path.is_file() {
                return Err(PyValueError::new_err(format!("no component file at {}", path.display())));
            }
            builder = builder.component_file(path);
        }
        if let Some(shards) = shards {
            builder = builder.shards(shards);
        }
        let mut clock = None;
        builder = match redis_url {
            Some(url) => {
                let options = RedisOptions {
                    connect_timeout: seconds("connect_timeout", connect_timeout)?,
                    response_timeout: seconds("socket_timeout", socket_timeout)?,
                    cluster,
                    wait_replicas: match wait_replicas {
                        Some(replicas) => {
                            Some(WaitReplicas { replicas, timeout: seconds("wait_timeout", wait_timeout)? })
                        }
                        None => None,
                    },
                    ..RedisOptions::default()
                };
                builder.redis_with_options(url, options)
            }
            None if manual_clock => {
                let manual = ManualClock::new();
                clock = Some(manual.clone());
                builder.memory_backend(MemoryBackend::with_clock(manual))
            }
            None => builder.memory(),
        };
        Ok(NativeStore {
            inner: Arc::new(Inner {
                store: Mutex::new(None),
                builder,
                closed: false.into(),
                opening: tokio::sync::Mutex::new(()),
                lanes: Mutex::new(Vec::new()),
                clock,
                pid: std::process::id(),
            }),
        })
    }

    /// Runs the repository operation `export` (its WIT name, `get-items`)
    /// with `args` on a lane, with the GIL released. The component says
    /// which operations there are and what they take; arguments that do
    /// not fit raise InvalidInputError.
    #[pyo3(signature = (export, *args))]
    fn call(&self, py: Python<'_>, export: String, args: &Bound<'_, PyTuple>) -> PyResult<Value> {
        let args = arguments(&export, args)?;
        blocking(py, &self.inner, move |store| async move { store.call(&export, args).await.map(Value) })
    }

    /// `call` as an awaitable driven by the shared tokio runtime.
    #[pyo3(signature = (export, *args))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        export: String,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = arguments(&export, args)?;
        awaitable(py, &self.inner, move |store| async move { store.call(&export, args).await.map(Value) })
    }

    /// Seconds one PING takes (0 for the in-memory store).
    fn ping(&self, py: Python<'_>) -> PyResult<f64> {
        blocking(py, &self.inner, move |store| async move { ping(store).await })
    }

    fn ping_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, &self.inner, move |store| async move { ping(store).await })
    }

    /// Moves the in-memory store's manual clock forward.
    fn advance_clock(&self, seconds: f64) -> PyResult<()> {
        let clock = self.inner.clock.as_ref().ok_or_else(|| {
            PyRuntimeError::new_err("advance_clock needs a repository made with in_memory(manual_clock=True)")
        })?;
        let by = Duration::try_from_secs_f64(seconds)
            .map_err(|_| PyValueError::new_err(format!("cannot advance the clock by {seconds} seconds")))?;
        clock.advance(by);
        Ok(())
    }

    /// Storage round trips made so far.
    #[getter]
    fn round_trips(&self) -> u64 {
        self.inner.store.lock().expect("store lock").as_ref().map_or(0, SessionStore::round_trips)
    }

    /// Where sessions are kept, password redacted.
    #[getter]
    fn storage(&self) -> String {
        match self.inner.store.lock().expect("store lock").as_ref() {
            Some(store) => store.storage_description(),
            None => "not connected yet".to_owned(),
        }
    }

    /// Drops the connection; calls in flight finish, later calls fail.
    fn close(&self) {
        self.inner.closed.store(true, std::sync::atomic::Ordering::Release);
        self.inner.store.lock().expect("store lock").take();
        self.inner.lanes.lock().expect("lanes lock").clear();
    }
}

async fn ping(store: SessionStore) -> Result<f64, Error> {
    let latency = store.kv().backend().ping().await.map_err(|e| {
        Error::Unavailable(format!("Redis is unavailable at {}: {}", store.storage_description(), e.message))
    })?;
    Ok(latency.as_secs_f64())
}
