//! The HTTP front component under wasmtime: its engine, the embedded
//! component, and the state of the store each request's instance gets.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::SessionStore;
use crate::error::Error;
use crate::runtime::{EPOCH_TICK, engine_settings};

/// The HTTP front built from `components/http-front/`, embedded at build
/// time.
pub const EMBEDDED_HTTP_FRONT: &[u8] = include_bytes!(env!("AGENT_SESSIONS_HTTP_FRONT"));

/// The same component compiled to native code by `build.rs` (empty if that
/// was not possible).
const PRECOMPILED_HTTP_FRONT: &[u8] = include_bytes!(env!("AGENT_SESSIONS_HTTP_FRONT_PRECOMPILED"));

/// The front's own engine, with the compilation settings `build.rs`
/// precompiled it with. Apart from the session component's: that engine's
/// instance pool is sized for guest calls, and a front instance per
/// request there would take the slots guest calls need.
pub(crate) fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let engine = Engine::new(&engine_settings::compilation_config())
                .map_err(|e| format!("cannot start wasmtime for the HTTP front: {e}"))?;
            let ticking = engine.weak();
            std::thread::Builder::new()
                .name("wasm-epoch-http".into())
                .spawn(move || {
                    while let Some(engine) = ticking.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the HTTP front's epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|message| Error::Setup(message.clone()))
}

/// The embedded front, compiled once per process.
pub(crate) fn embedded_front(engine: &Engine) -> Result<Component, Error> {
    static EMBEDDED: OnceLock<Result<Component, String>> = OnceLock::new();
    EMBEDDED
        .get_or_init(|| {
            if !PRECOMPILED_HTTP_FRONT.is_empty() {
                // SAFETY: these bytes are what `Engine::precompile_component`
                // produced in this crate's build script from the embedded
                // front, with this wasmtime version and these compilation
                // settings, compiled into the binary read-only. wasmtime
                // checks version and settings and refuses a mismatch, which
                // falls back to compiling below.
                match unsafe { Component::deserialize(engine, PRECOMPILED_HTTP_FRONT) } {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(error = %e, "the precompiled HTTP front does not fit; compiling it"),
                }
            }
            Component::new(engine, EMBEDDED_HTTP_FRONT).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|message| Error::Setup(format!("cannot load the embedded HTTP front: {message}")))
}

/// The state of a front instance's store: WASI with the front's
/// environment (and no network), wasi:http, limits, the session store its
/// repository import calls, and (reset per request) what the request did
/// and its CPU use.
pub(crate) struct FrontState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: NoOutgoingRequests,
    pub(crate) table: ResourceTable,
    pub(crate) limits: FrontLimits,
    pub(crate) sessions: SessionStore,
    /// The first repository function the request called (the metrics'
    /// `operation`), shared with the task that answers the request.
    pub(crate) operation: Arc<OnceLock<Arc<str>>>,
    pub(crate) cpu: CpuMeter,
}

impl FrontState {
    /// Notes a repository call (the first names the request).
    pub(crate) fn called(&mut self, operation: &Arc<str>) {
        let _ = self.operation.set(operation.clone());
    }

    /// The repository call returned: computing starts again now.
    pub(crate) fn resumed(&mut self) {
        self.cpu.last_tick = Instant::now();
    }
}

impl WasiView for FrontState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for FrontState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// The store's limits, noting how far the front's memory grew: an
/// instance that grew large (a big body) is not kept for reuse, so idle
/// instances do not hold on to that memory.
pub(crate) struct FrontLimits {
    pub(crate) limits: StoreLimits,
    /// The largest size a memory of this store was allowed to grow to.
    pub(crate) memory_peak: usize,
}

impl ResourceLimiter for FrontLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_peak = self.memory_peak.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// wasi:http hooks that refuse every outgoing request: the front reaches
/// storage only through its repository import.
pub(crate) struct NoOutgoingRequests;

type Sent = (axum::http::Response<WasiBody>, Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>);

impl WasiHttpHooks for NoOutgoingRequests {
    fn send_request(
        &mut self,
        _request: axum::http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = wasmtime_wasi_http::Result<Sent>> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Roughly how long the front has computed, from the epoch ticks it
/// crossed; a front that computes past its budget is stopped (a runaway
/// loop must not hold a request for ever). Time spent waiting on a
/// repository call does not count; a wait on I/O counts at most one tick.
pub(crate) struct CpuMeter {
    pub(crate) used: Duration,
    pub(crate) last_tick: Instant,
    pub(crate) budget: Duration,
}

impl CpuMeter {
    pub(crate) fn new(budget: Duration) -> Self {
        Self { used: Duration::ZERO, last_tick: Instant::now(), budget }
    }

    /// One epoch tick while the front ran: true while within budget.
    pub(crate) fn tick(&mut self) -> bool {
        let now = Instant::now();
        self.used += now.duration_since(self.last_tick).min(EPOCH_TICK);
        self.last_tick = now;
        self.used <= self.budget
    }
}
