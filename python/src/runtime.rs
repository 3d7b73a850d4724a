//! The tokio runtime behind every call, and the two ways Python waits for
//! it: [`block_on`] for blocking calls and [`awaitable`] for asyncio.
//!
//! One multi-threaded runtime per process drives the connection awaitables
//! use; blocking calls drive lanes of their own (`store.rs`).
//!
//! An awaitable's result reaches its event loop without the runtime's
//! threads taking the GIL: a finished call queues its outcome on the loop's
//! [`LoopWaker`] and writes a byte to a pipe the loop watches
//! (`add_reader`); the loop's own thread then turns outcomes into results.
//! Taking the GIL on a runtime thread and calling `call_soon_threadsafe`
//! (what `pyo3_async_runtimes::tokio::future_into_py` does, with a
//! blocking-pool hand-off besides) made the loop wake up only to wait for
//! the GIL: a `get` cost about 100 µs more awaited than blocking on the
//! 2-core machine this was measured on, and 32 concurrent gets reached a
//! third of the throughput.

use std::future::Future;
use std::io::{PipeReader, PipeWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{IntoPyObjectExt, intern};

use crate::errors::Failure;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("agent-sessions")
            .enable_all()
            .build()
            .expect("start the tokio runtime")
    })
}

/// Runs `future` to completion on the runtime with the GIL released, so
/// other Python threads run meanwhile.
pub fn block_on<F: Future + Send>(py: Python<'_>, future: F) -> F::Output
where
    F::Output: Send,
{
    py.detach(|| runtime().block_on(future))
}

/// An asyncio future of the running loop that `future`, spawned on the
/// runtime, resolves. Cancelling the asyncio future aborts the task: the
/// Rust future is dropped at its next await point.
pub fn awaitable<'py, T, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Failure>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let completions = loop_waker(&event_loop)?;
    let in_flight = InFlight::start(&completions);
    let py_future = event_loop.call_method0(intern!(py, "create_future"))?;
    let target = py_future.clone().unbind();
    let others_in_flight = in_flight.others;
    let waker = completions;
    let call = Box::pin(async move {
        let outcome = future.await;
        drop(in_flight);
        let produce: Produce = Box::new(move |py| match outcome {
            Ok(value) => value.into_py_any(py),
            Err(failure) => Err(failure.into_pyerr(py)),
        });
        waker.push(target, produce);
    });
    let mut call: Call = call;
    // With other calls of this loop in flight, the loop's thread is the
    // busy one: the call goes to the runtime's threads at once (32 tasks
    // creating sessions kept the loop's thread at 100 % otherwise).
    if others_in_flight {
        let task = runtime().spawn(call).abort_handle();
        let parked = Arc::new(Parked { state: Mutex::new(State::Spawned(task)) });
        py_future.call_method1(intern!(py, "add_done_callback"), (AbortOnCancel { call: parked },))?;
        return Ok(py_future);
    }
    // Alone, the call runs here until it first waits (for Redis): the
    // component's work is done on this warm thread. Only when the wait ends
    // does the call move to the runtime, spawned by the thread that woke it
    // (the connection's), so no other thread is woken to take it over.
    let parked = Arc::new(Parked { state: Mutex::new(State::Polling { woken: false }) });
    let waker = std::task::Waker::from(parked.clone());
    let finished = py.detach(|| {
        let _context = runtime().enter();
        call.as_mut().poll(&mut std::task::Context::from_waker(&waker)).is_ready()
    });
    if !finished {
        parked.first_poll_pending(call);
        py_future.call_method1(intern!(py, "add_done_callback"), (AbortOnCancel { call: parked },))?;
    }
    Ok(py_future)
}

type Call = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Counts a loop's calls in flight, from start until the call is finished
/// or dropped (cancelled).
struct InFlight {
    completions: Arc<Completions>,
    /// Whether other calls of the loop were in flight when this one started.
    others: bool,
}

impl InFlight {
    fn start(completions: &Arc<Completions>) -> Self {
        let before = completions.in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight { completions: completions.clone(), others: before > 0 }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.completions.in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A call that ran on the loop's thread until it had to wait, and the
/// waker it registered then: the first wake hands it to the runtime.
struct Parked {
    state: Mutex<State>,
}

enum State {
    /// The loop's thread is polling it; `woken` if it was woken meanwhile.
    Polling { woken: bool },
    /// Waiting for its first wake.
    Waiting(Call),
    /// On the runtime, which polls it with its own wakers from now on.
    Spawned(tokio::task::AbortHandle),
    /// Cancelled before it was spawned: dropped.
    Cancelled,
}

impl Parked {
    fn first_poll_pending(&self, call: Call) {
        let mut state = self.state.lock().expect("parked call lock");
        *state = match *state {
            State::Polling { woken: true } => State::Spawned(runtime().spawn(call).abort_handle()),
            _ => State::Waiting(call),
        };
    }

    fn cancel(&self) {
        let dropped = {
            let mut state = self.state.lock().expect("parked call lock");
            match std::mem::replace(&mut *state, State::Cancelled) {
                State::Spawned(task) => {
                    task.abort();
                    None
                }
                State::Waiting(call) => Some(call),
                State::Polling { .. } | State::Cancelled => None,
            }
        };
        drop(dropped);
    }
}

impl std::task::Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.lock().expect("parked call lock");
        match std::mem::replace(&mut *state, State::Cancelled) {
            State::Polling { .. } => *state = State::Polling { woken: true },
            State::Waiting(call) => *state = State::Spawned(runtime().spawn(call).abort_handle()),
            other => *state = other,
        }
    }
}

fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()
}

/// Turns a finished call's outcome into its Python result, on the loop's thread.
type Produce = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// What runtime threads share with one event loop: finished calls, and the
/// pipe that wakes the loop when the first of them arrives.
struct Completions {
    /// Calls of this loop started and not yet finished or dropped.
    in_flight: std::sync::atomic::AtomicUsize,
    finished: Mutex<Vec<(Py<PyAny>, Produce)>>,
    wake: PipeWriter,
    woken: PipeReader,
}

impl Completions {
    fn push(&self, future: Py<PyAny>, produce: Produce) {
        let first = {
            let mut finished = self.finished.lock().expect("completions lock");
            finished.push((future, produce));
            finished.len() == 1
        };
        // One byte per batch: the loop reads the byte before it takes the
        // batch, so a call that finishes meanwhile writes its own.
        if first {
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// The reader `add_reader` calls on the loop's thread when calls finished.
#[pyclass(frozen)]
struct LoopWaker {
    completions: Arc<Completions>,
}

#[pymethods]
impl LoopWaker {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let mut bytes = [0u8; 256];
        // Readable, so this does not block.
        let _ = (&self.completions.woken).read(&mut bytes);
        let finished = std::mem::take(&mut *self.completions.finished.lock().expect("completions lock"));
        for (future, produce) in finished {
            let future = future.bind(py);
            // A cancelled future is done and wants nothing.
            if future.call_method0(intern!(py, "done"))?.is_truthy()? {
                continue;
            }
            match produce(py) {
                Ok(value) => future.call_method1(intern!(py, "set_result"), (value,))?,
                Err(error) => future.call_method1(intern!(py, "set_exception"), (error.into_value(py),))?,
            };
        }
        Ok(())
    }
}

/// The running loop's completions, set up on its first awaitable: one
/// pipe per loop, kept in a `WeakKeyDictionary`, so it goes (and its reader
/// with it) when the loop does.
fn loop_waker(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Completions>> {
    static LOOPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = event_loop.py();
    let loops = LOOPS
        .get_or_try_init(py, || py.import("weakref")?.getattr("WeakKeyDictionary")?.call0().map(Bound::unbind))?
        .bind(py);
    if let Ok(waker) = loops.call_method1(intern!(py, "get"), (event_loop,))?.cast::<LoopWaker>() {
        return Ok(waker.get().completions.clone());
    }
    let (woken, wake) = std::io::pipe()?;
    let fd = woken.as_raw_fd();
    let completions = Arc::new(Completions { in_flight: 0.into(), finished: Mutex::new(Vec::new()), wake, woken });
    let waker = Bound::new(py, LoopWaker { completions: completions.clone() })?;
    event_loop.call_method1(intern!(py, "add_reader"), (fd, &waker))?;
    loops.set_item(event_loop, waker)?;
    Ok(completions)
}

/// Done-callback of an awaitable's asyncio future: a cancelled future
/// drops its call, or aborts it once on the runtime (it is then dropped at
/// its next await point).
#[pyclass(frozen)]
struct AbortOnCancel {
    call: Arc<Parked>,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0(intern!(future.py(), "cancelled"))?.is_truthy()? {
            self.call.cancel();
        }
        Ok(())
    }
}
