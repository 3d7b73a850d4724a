//! The HTTP API (`sessions serve --api`): the same HTTP front component
//! the wasm deployments run (`components/http-front/`, a
//! `wasi:http/incoming-handler`, embedded at build time), hosted here with
//! `wasmtime-wasi-http`. A front instance that answered a request cleanly
//! serves later ones (as `wasmtime serve --max-instance-reuse-count` does:
//! the front keeps only its settings and check-layout flag between
//! requests); one that trapped, ran out of its CPU budget, left resources
//! behind or grew its memory large is dropped. Instantiating per request
//! cost a get about 3x its latency (fresh linear memory and stack mappings,
//! their page faults, and unmapping them). The
//! front's `repository` import runs on a [`SessionStore`] (`repository`),
//! so the HTTP API and every other host share one call path.
//!
//! The front gets no network (no sockets, outgoing requests refused) and
//! sees, through `wasi:cli/environment`, only `SESSIONS_API_TOKEN`,
//! `SESSIONS_API_AUTH` and `SESSIONS_API_MAX_BODY` (as this process has
//! them) and `SESSIONS_LAYOUT_CHECKED=1`: the store checked the key layout
//! when it was built.

mod front;
mod repository;

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tokio::sync::{Semaphore, oneshot};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

pub use self::front::EMBEDDED_HTTP_FRONT;
use self::front::{CpuMeter, FrontLimits, FrontState, NoOutgoingRequests};
use crate::SessionStore;
use crate::error::Error;

/// The environment variables the front reads that a deployer sets; the
/// native host passes them on from its own environment.
pub const FRONT_ENVIRONMENT: [&str; 3] = ["SESSIONS_API_TOKEN", "SESSIONS_API_AUTH", "SESSIONS_API_MAX_BODY"];

/// The front's request body limit when `SESSIONS_API_MAX_BODY` is unset.
const DEFAULT_MAX_BODY: usize = 8 << 20;

/// Linear memory one front instance may use: room for a whole read of
/// items (16 MiB of JSON) in and out, or a body at its limit parsed, many
/// times over.
const FRONT_MEMORY_BYTES: usize = 256 << 20;

/// Front instances alive at once; further requests wait for one to end.
/// Bounds the memory requests can take, not the guest calls (those have
/// their own slots).
pub const MAX_CONCURRENT_REQUESTS: usize = 1024;

/// Idle front instances kept for reuse; more are dropped when their
/// request ends.
const MAX_IDLE_INSTANCES: usize = 64;

/// Requests one front instance answers before a fresh one replaces it, so
/// nothing it accumulates (heap fragmentation, say) grows for ever.
const REQUESTS_PER_INSTANCE: u32 = 10_000;

/// An instance whose memory grew past this (a large body) is not kept:
/// idle instances would hold on to that memory (at most 64 x 4 MiB; a
/// front starts with about 1 MiB).
const KEPT_MEMORY_BYTES: usize = 4 << 20;

/// A front instance answering one request.
type Work = Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send>>;

/// The work of a request, run to its end in a task of its own if it is
/// dropped unfinished: a response body still being written, or a request
/// whose client left (its write goes through as if the client had stayed).
struct Running(Option<Work>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(work) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(work);
        }
    }
}

/// The HTTP API over a session store. Cheap to clone.
#[derive(Clone)]
pub struct HttpApi {
    inner: Arc<Inner>,
}

struct Inner {
    pre: ProxyPre<FrontState>,
    sessions: SessionStore,
    environment: Vec<(String, String)>,
    memory_bytes: usize,
    cpu_budget: Duration,
    requests: Arc<Semaphore>,
    /// Instances that answered a request cleanly, ready for the next one.
    idle: std::sync::Mutex<Vec<Front>>,
}

/// A front instance between requests.
struct Front {
    store: Store<FrontState>,
    proxy: Proxy,
    /// Requests it answered.
    uses: u32,
}

impl HttpApi {
    /// The API over `sessions`, its front configured by the
    /// [`FRONT_ENVIRONMENT`] variables of this process.
    pub fn from_env(sessions: SessionStore) -> Result<Self, Error> {
        let environment =
            FRONT_ENVIRONMENT.iter().filter_map(|name| std::env::var(name).ok().map(|value| (name.to_string(), value)));
        Self::new(sessions, environment)
    }

    /// The API over `sessions`, its front seeing `environment` (names of
    /// [`FRONT_ENVIRONMENT`]; others are passed too).
    pub fn new(sessions: SessionStore, environment: impl IntoIterator<Item = (String, String)>) -> Result<Self, Error> {
        let mut environment: Vec<(String, String)> =
            environment.into_iter().filter(|(name, _)| name != "SESSIONS_LAYOUT_CHECKED").collect();
        environment.push(("SESSIONS_LAYOUT_CHECKED".into(), "1".into()));
        let max_body = environment
            .iter()
            .find(|(name, _)| name == "SESSIONS_API_MAX_BODY")
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_MAX_BODY);

        let engine = front::engine()?;
        let component = front::embedded_front(engine)?;
        let mut linker = Linker::<FrontState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .map_err(|e| Error::Setup(format!("cannot link the HTTP front: {e:#}")))?;
        let misfit = |e: String| Error::Setup(format!("the HTTP front does not fit this host: {e}"));
        repository::bind(&mut linker, engine, &component, sessions.operations()).map_err(misfit)?;
        let pre = linker.instantiate_pre(&component).and_then(ProxyPre::new).map_err(|e| misfit(format!("{e:#}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pre,
                environment,
                memory_bytes: FRONT_MEMORY_BYTES.max(max_body.saturating_mul(16)),
                // The guest's CPU budget several times over: the front
                // parses and writes whole bodies, the guest only documents.
                cpu_budget: sessions.limits().cpu_time * 4,
                sessions,
                requests: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
                idle: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// The session store the API runs on.
    pub fn sessions(&self) -> &SessionStore {
        &self.inner.sessions
    }

    /// Answers one request in a front instance, and records it in
    /// the HTTP metrics. Failures of the front itself (a trap) are a 500
    /// problem document.
    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let operation = Arc::new(OnceLock::new());
        let response = self.respond(request, operation.clone()).await;
        crate::metrics::record_http_request(
            operation.get().map(|name: &Arc<str>| &**name),
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    async fn respond(&self, request: Request<Body>, operation: Arc<OnceLock<Arc<str>>>) -> Response<Body> {
        let Ok(permit) = self.inner.requests.clone().acquire_owned().await else {
            return problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the HTTP API is shutting down");
        };
        let mut front = match self.front(operation).await {
            Ok(front) => front,
            Err(e) => return front_failed(&e),
        };
        let request =
            request.map(|body| body.map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string()))));
        // On these two failures the instance is dropped: its table may
        // hold the request.
        let incoming = match front.store.data_mut().http().new_incoming_request(Scheme::Http, request) {
            Ok(incoming) => incoming,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "invalid_input", &format!("{e:#}")),
        };
        let (sender, receiver) = oneshot::channel();
        let outparam = match front.store.data_mut().http().new_response_outparam(sender) {
            Ok(outparam) => outparam,
            Err(e) => return front_failed(&e),
        };
        let api = self.clone();
        let work: Work = Box::pin(async move {
            let _permit = permit;
            let Front { mut store, proxy, uses } = front;
            let outcome = proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await;
            // Only an instance that ended the request cleanly serves again;
            // one that trapped or ran out of its budget is dropped here.
            if outcome.is_ok() {
                api.recycle(Front { store, proxy, uses: uses + 1 });
            }
            outcome
        });
        // The instance runs in this task until the response head is there
        // (usually the whole request: a task per request cost a get two
        // cross-thread wake-ups); if it goes on writing the body after
        // that, or this request is dropped (the client left), the rest runs
        // in a task of its own.
        let mut running = Running(Some(work));
        let mut receiver = receiver;
        let mut finished = None;
        let head = std::future::poll_fn(|context| {
            if let Some(work) = running.0.as_mut()
                && let Poll::Ready(outcome) = work.as_mut().poll(context)
            {
                running.0 = None;
                finished = Some(outcome);
            }
            Pin::new(&mut receiver).poll(context)
        })
        .await;
        match head {
            Ok(Ok(response)) => response.map(Body::new),
            Ok(Err(code)) => {
                tracing::warn!(error = ?code, "the HTTP front answered with an error code");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "other", &format!("the HTTP front failed: {code:?}"))
            }
            // The front dropped its response outparam without answering: it
            // trapped (or has a bug).
            Err(_) => {
                let outcome = match (finished, running.0.take()) {
                    (Some(outcome), _) => outcome,
                    (None, Some(work)) => work.await,
                    (None, None) => Ok(()),
                };
                match outcome {
                    Ok(()) => problem(StatusCode::INTERNAL_SERVER_ERROR, "other", "the HTTP front gave no response"),
                    Err(e) => front_failed(&e),
                }
            }
        }
    }

    /// A front instance for one request: an idle one, reset, or a fresh
    /// one.
    async fn front(&self, operation: Arc<OnceLock<Arc<str>>>) -> wasmtime::Result<Front> {
        let reused = self.idle().pop();
        if let Some(mut front) = reused {
            let state = front.store.data_mut();
            state.operation = operation;
            state.cpu = CpuMeter::new(self.inner.cpu_budget);
            front.store.set_epoch_deadline(1);
            return Ok(front);
        }
        let mut store = self.new_store(operation);
        let proxy = self.inner.pre.instantiate_async(&mut store).await?;
        Ok(Front { store, proxy, uses: 0 })
    }

    /// Keeps an instance that answered a request cleanly for the next
    /// one, unless it has served many already, left resources behind, or
    /// grew its memory large.
    fn recycle(&self, mut front: Front) {
        let state = front.store.data_mut();
        let dropped = if front.uses >= REQUESTS_PER_INSTANCE {
            Some("served its share of requests")
        } else if state.limits.memory_peak > KEPT_MEMORY_BYTES {
            Some("its memory grew large")
        } else if !state.table.is_empty() {
            Some("it left resources behind")
        } else {
            None
        };
        if let Some(reason) = dropped {
            tracing::debug!(reason, memory_peak = state.limits.memory_peak, "HTTP front instance not kept");
            return;
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE_INSTANCES {
            idle.push(front);
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Front>> {
        // A panic elsewhere while holding the lock leaves a valid Vec.
        self.inner.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A store for one instance: the front's environment, no network, its
    /// memory and CPU limits.
    fn new_store(&self, operation: Arc<OnceLock<Arc<str>>>) -> Store<FrontState> {
        let inner = &self.inner;
        let state = FrontState {
            wasi: WasiCtx::builder()
                .envs(&inner.environment)
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build(),
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingRequests,
            table: ResourceTable::new(),
            limits: FrontLimits {
                limits: StoreLimitsBuilder::new()
                    .memory_size(inner.memory_bytes)
                    .instances(8)
                    .memories(4)
                    .tables(16)
                    .trap_on_grow_failure(true)
                    .build(),
                memory_peak: 0,
            },
            sessions: inner.sessions.clone(),
            operation,
            cpu: CpuMeter::new(inner.cpu_budget),
        };
        let mut store = Store::new(inner.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        // At each tick while the front computes: yield to the executor,
        // or stop it once it has used its budget.
        store.epoch_deadline_callback(|mut context| {
            Ok(if context.data_mut().cpu.tick() { UpdateDeadline::Yield(1) } else { UpdateDeadline::Interrupt })
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Average time to make a request's store and front instance, the
    /// fixed cost of every request (for benchmarks).
    #[doc(hidden)]
    pub async fn instance_preparation_time(&self, samples: u32) -> Result<Duration, Error> {
        let started = Instant::now();
        for _ in 0..samples {
            let mut store = self.new_store(Arc::new(OnceLock::new()));
            self.inner.pre.instantiate_async(&mut store).await.map_err(|e| Error::Guest(format!("{e:#}")))?;
        }
        Ok(started.elapsed() / samples.max(1))
    }
}

/// A trap or host failure of the front, as a 500 problem (details in the
/// log, not in the body).
fn front_failed(error: &wasmtime::Error) -> Response<Body> {
    tracing::warn!(error = format!("{error:?}"), "the HTTP front failed");
    let detail = match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "the HTTP front ran out of its CPU budget".to_owned(),
        Some(trap) => format!("the HTTP front trapped: {trap}"),
        None => "the HTTP front failed".to_owned(),
    };
    problem(StatusCode::INTERNAL_SERVER_ERROR, "other", &detail)
}

/// An RFC 9457 problem document, for what the host answers itself.
fn problem(status: StatusCode, kind: &str, detail: &str) -> Response<Body> {
    let document = serde_json::json!({
        "type": format!("https://agent-sessions.dev/problems/{kind}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "kind": kind,
    });
    let mut response = Response::new(Body::from(document.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}
