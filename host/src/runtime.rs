//! Running the component: one engine per process, the component
//! precompiled at build time and pre-linked once per store, and sandboxed
//! instances that serve one call at a time.
//!
//! An instance that ended a call cleanly serves the next one; one that
//! trapped, hit a limit or was cut off by the timeout is dropped, so a
//! runaway loop or a corrupted guest heap never leaks into another call.
//! New instances come from wasmtime's pooling allocator (a few µs).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use agent_sessions_guest::Settings;
use wasmtime::component::{Component, HasSelf, Instance, InstancePre, Linker, ResourceTable, Val};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
    UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::SessionStore as Bindings;
use crate::error::Error;
use crate::kv::KvStore;
use crate::operations::{self, Operation, Operations, Reply};

/// The component built from `guest/`, embedded at build time.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("AGENT_SESSIONS_COMPONENT"));

/// The same component compiled to native code by `build.rs` (empty if that
/// was not possible).
const PRECOMPILED_COMPONENT: &[u8] = include_bytes!(env!("AGENT_SESSIONS_PRECOMPILED"));

/// Which component to run.
#[derive(Debug, Clone, Default)]
pub enum ComponentSource {
    /// The component built with this host.
    #[default]
    Embedded,
    /// A component `.wasm` file, for example a newer build of `guest/`.
    File(PathBuf),
    /// Component bytes.
    Bytes(Vec<u8>),
}

/// Resource limits for every call into the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// Most linear memory one instance may use.
    pub memory_bytes: usize,
    /// Longest the guest may compute without calling storage: a runaway
    /// loop is stopped after this (checked every [`EPOCH_TICK`]).
    pub cpu_time: Duration,
    /// Longest one call may take, storage round trips included.
    pub timeout: Duration,
}

impl Default for GuestLimits {
    fn default() -> Self {
        Self { memory_bytes: 64 << 20, cpu_time: Duration::from_secs(1), timeout: Duration::from_secs(30) }
    }
}

/// How often the engine's epoch advances. A guest that computes for longer
/// than a tick yields to the async runtime (so it cannot starve other tasks
/// and the timeout can fire) and has its CPU time checked. Epochs cost the
/// guest a load and compare at function entries and loop heads; fuel, the
/// alternative, cost a `get` about a fifth of its time in the component.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// State of one store: the sandbox's WASI context (nothing granted), limits,
/// and the storage and settings the guest's imports see.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    pub(crate) kv: KvStore,
    pub(crate) settings: Settings,
    /// Batches sent to storage during this call (one round trip each).
    pub(crate) round_trips: u64,
    /// Set when a write of this call reached fewer replicas than the store
    /// waits for: the call then fails with [`Error::NotReplicated`].
    pub(crate) not_replicated: Option<String>,
    /// When the guest last got control back from the host: the start of
    /// its current stretch of computing.
    pub(crate) computing_since: Instant,
    cpu_time: Duration,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

pub(crate) struct Runtime {
    pre: InstancePre<HostState>,
    /// The repository's operations, read from the component's types.
    operations: Operations,
    limits: GuestLimits,
    /// Instances that finished a call cleanly, ready for the next one.
    idle: std::sync::Mutex<Vec<Warm>>,
}

/// An instantiated component between calls.
struct Warm {
    store: Store<HostState>,
    instance: Instance,
    calls: u32,
}

/// Idle instances kept per runtime; more are dropped when their call ends.
const MAX_IDLE_INSTANCES: usize = 64;

/// Calls one instance serves before it is replaced by a fresh one, so that
/// nothing a guest accumulates (heap fragmentation, say) grows for ever.
const CALLS_PER_INSTANCE: u32 = 10_000;

/// One engine per process: compiled code can be shared between engines
/// only when they are the same, and the configuration never varies.
fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config()));
            let engine = Engine::new(&config).or_else(|pooling_error| {
                // Pooling reserves address space up front; where that is
                // refused (a tight `ulimit -v`), instantiate on demand.
                tracing::warn!(%pooling_error, "the pooling allocator is unavailable; allocating instances on demand");
                Engine::new(&base_config()).map_err(|e| format!("cannot start wasmtime: {e}"))
            })?;
            let ticking = engine.weak();
            std::thread::Builder::new()
                .name("wasm-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticking.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|message| Error::Setup(message.clone()))
}

#[path = "../../build-support/engine.rs"]
pub(crate) mod engine_settings;

/// Compilation settings, the same `build.rs` precompiles with.
fn base_config() -> Config {
    engine_settings::compilation_config()
}

/// Calls in flight at once, per process: the pooling allocator keeps this
/// many instances' memories, tables and stacks ready, so instantiating
/// costs a few microseconds instead of fresh mappings. Further calls wait.
pub const MAX_CONCURRENT_CALLS: u32 = 256;

/// One permit per instance slot of the pool, shared by every store.
static CALL_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CALLS as usize);

async fn call_slot() -> Result<tokio::sync::SemaphorePermit<'static>, Error> {
    CALL_SLOTS.acquire().await.map_err(|e| Error::Setup(format!("call slots closed: {e}")))
}

fn pooling_config() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_CONCURRENT_CALLS)
        .total_core_instances(MAX_CONCURRENT_CALLS * 4)
        .total_memories(MAX_CONCURRENT_CALLS * 2)
        .total_tables(MAX_CONCURRENT_CALLS * 4)
        .total_stacks(MAX_CONCURRENT_CALLS)
        // The per-store memory limit (GuestLimits) is what bounds a guest.
        .max_memory_size(4 << 30)
        // Reset a used instance's first pages with memset rather than
        // madvise (a call touches few pages); more costs a memset per call.
        .linear_memory_keep_resident(64 << 10)
        .table_keep_resident(16 << 10);
    pool
}

/// The embedded component, compiled once per process however many stores
/// are built.
fn embedded_component(engine: &Engine) -> Result<Component, Error> {
    static EMBEDDED: OnceLock<Result<Component, String>> = OnceLock::new();
    EMBEDDED
        .get_or_init(|| {
            if !PRECOMPILED_COMPONENT.is_empty() {
                // SAFETY: these bytes are what `Engine::precompile_component`
                // produced in this crate's build script from the embedded
                // component, with this wasmtime version and these compilation
                // settings, and they are compiled into the binary read-only.
                // wasmtime checks the version and settings and refuses a
                // mismatch, which falls back to compiling below.
                match unsafe { Component::deserialize(engine, PRECOMPILED_COMPONENT) } {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(error = %e, "the precompiled component does not fit; compiling it"),
                }
            }
            Component::new(engine, EMBEDDED_COMPONENT).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|message| Error::Setup(format!("cannot load the embedded session component: {message}")))
}

impl Runtime {
    pub(crate) fn new(source: &ComponentSource, limits: GuestLimits) -> Result<Self, Error> {
        let engine = engine()?;
        let component = match source {
            ComponentSource::Embedded => embedded_component(engine)?,
            ComponentSource::Bytes(bytes) => Component::new(engine, bytes).map_err(|e| load_error(source, &e))?,
            ComponentSource::File(path) => Component::from_file(engine, path).map_err(|e| load_error(source, &e))?,
        };

        let mut linker = Linker::<HostState>::new(engine);
        // WASI is linked because the Rust standard library imports it; the
        // context grants nothing: no files, environment, arguments,
        // network or stdio. Clocks and randomness are what the rules need.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|_| Bindings::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state))
            .map_err(|e| Error::Setup(format!("cannot link the session component: {e:#}")))?;
        let misfit = |e: String| {
            Error::Setup(format!("the session component{} does not fit this host: {e}", describe_source(source)))
        };
        let operations = Operations::learn(engine, &component).map_err(misfit)?;
        let pre = linker.instantiate_pre(&component).map_err(|e| misfit(format!("{e:#}")))?;
        Ok(Self { pre, operations, limits, idle: std::sync::Mutex::new(Vec::new()) })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        // A panic elsewhere while holding the lock leaves a valid Vec.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An instance for one call: an idle one, reset, or a fresh one.
    async fn instance(&self, kv: &KvStore, settings: Settings) -> Result<Warm, Error> {
        let reused = self.idle().pop();
        if let Some(mut warm) = reused {
            let state = warm.store.data_mut();
            // Stores sharing this runtime may talk to storage through
            // different connections (`SessionStore::with_own_connection`).
            state.kv = kv.clone();
            state.settings = settings;
            state.round_trips = 0;
            state.not_replicated = None;
            state.computing_since = Instant::now();
            warm.store.set_epoch_deadline(1);
            return Ok(warm);
        }
        let mut store = self.new_store(kv, settings)?;
        let instance =
            self.pre.instantiate_async(&mut store).await.map_err(|e| Error::Guest(describe_trap(&e, self.limits)))?;
        Ok(Warm { store, instance, calls: 0 })
    }

    /// Keeps an instance whose call ended cleanly (a value or a typed
    /// error) for the next call.
    fn recycle(&self, mut warm: Warm) {
        warm.calls += 1;
        if warm.calls < CALLS_PER_INSTANCE {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE_INSTANCES {
                idle.push(warm);
            }
        }
    }

    pub(crate) fn limits(&self) -> GuestLimits {
        self.limits
    }

    pub(crate) fn operations(&self) -> &Operations {
        &self.operations
    }

    /// Average time to prepare a store and instantiate the component, the
    /// fixed cost every call pays before the guest runs.
    pub(crate) async fn instance_preparation(
        &self,
        kv: &KvStore,
        settings: Settings,
        samples: u32,
    ) -> Result<Duration, Error> {
        let started = std::time::Instant::now();
        for _ in 0..samples {
            let _slot = call_slot().await?;
            let mut store = self.new_store(kv, settings)?;
            self.pre.instantiate_async(&mut store).await.map_err(|e| Error::Guest(format!("{e:#}")))?;
        }
        Ok(started.elapsed() / samples.max(1))
    }

    /// A fresh store with the sandbox's limits, ready to instantiate.
    fn new_store(&self, kv: &KvStore, settings: Settings) -> Result<Store<HostState>, Error> {
        let state = HostState {
            wasi: WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .instances(4)
                .memories(4)
                .tables(16)
                .trap_on_grow_failure(true)
                .build(),
            kv: kv.clone(),
            settings,
            round_trips: 0,
            not_replicated: None,
            computing_since: Instant::now(),
            cpu_time: self.limits.cpu_time,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        // At each epoch tick while the guest computes: stop it if it has
        // computed for longer than its CPU time since it last called the
        // host, else yield to the executor and look again next tick.
        store.epoch_deadline_callback(|context| {
            let state = context.data();
            Ok(if state.computing_since.elapsed() > state.cpu_time {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store.set_epoch_deadline(1);
        Ok(store)
    }

    /// Runs `operation` with `args` (already checked against its
    /// parameters) on an instance, within the memory, CPU and time limits.
    pub(crate) async fn call(
        &self,
        operation: &Operation,
        args: &[Val],
        kv: &KvStore,
        settings: Settings,
    ) -> Result<Reply, Error> {
        let _slot = call_slot().await?;
        let mut warm = self.instance(kv, settings).await?;
        let func = warm.instance.get_func(&mut warm.store, operation.index).ok_or_else(|| {
            Error::Guest(format!("the instance has no operation {} although its component has", operation.name))
        })?;
        let mut results = [Val::Bool(false)];
        let outcome =
            tokio::time::timeout(self.limits.timeout, func.call_async(&mut warm.store, args, &mut results)).await;
        let store = &warm.store;
        tracing::debug!(
            operation = operation.name,
            round_trips = store.data().round_trips,
            reused = warm.calls > 0,
            "component call"
        );
        // An instance that trapped, hit a limit or was cut off by the
        // timeout is dropped; only clean ones serve again.
        match outcome {
            Err(_) => Err(Error::Timeout(self.limits.timeout)),
            Ok(Err(trap)) => Err(Error::Guest(describe_trap(&trap, self.limits))),
            Ok(Ok(())) => {
                let not_replicated = warm.store.data_mut().not_replicated.take();
                self.recycle(warm);
                let [result] = results;
                match not_replicated {
                    Some(message) => Err(Error::NotReplicated(message)),
                    None => operations::lift(&operation.name, result),
                }
            }
        }
    }
}

fn load_error(source: &ComponentSource, error: &wasmtime::Error) -> Error {
    Error::Setup(format!("cannot load the session component{}: {error:#}", describe_source(source)))
}

fn describe_source(source: &ComponentSource) -> String {
    match source {
        ComponentSource::File(path) => format!(" {}", path.display()),
        _ => String::new(),
    }
}

/// One line saying which limit was hit, if any, and the trap's cause; the
/// full wasm backtrace goes to the debug log.
fn describe_trap(trap: &wasmtime::Error, limits: GuestLimits) -> String {
    tracing::debug!(error = format!("{trap:?}"), "component trapped");
    if matches!(trap.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
        return format!(
            "it ran out of its CPU budget (computed for more than {:?} without calling storage)",
            limits.cpu_time
        );
    }
    let cause = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        None => trap.root_cause().to_string(),
    };
    let cause = cause.lines().next().unwrap_or("unknown failure").trim().to_owned();
    if cause.contains("growing memory") || cause.contains("memory minimum size") {
        format!("it hit its memory limit ({}): {cause}", human_bytes(limits.memory_bytes))
    } else {
        format!("it trapped: {cause}")
    }
}

fn human_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}
