//! `sessions serve`: cleanup on a schedule, session gauges from periodic
//! stats walks, and HTTP endpoints for Prometheus and orchestrators.
//!
//! - Cleanup runs every `--cleanup-interval` (plus up to 10% at random, so
//!   replicas spread out). A run sweeps only if it takes the cleanup lease
//!   in Redis (valid for one interval), so of several replicas against one
//!   Redis one sweeps per interval; a crashed holder blocks nobody longer
//!   than one interval.
//! - `/metrics`: Prometheus text; `/healthz`: the process is up;
//!   `/readyz`: Redis answers and the component runs (else 503 and why).
//! - `--api`: the HTTP API on the same listener: every request but
//!   `/metrics` goes to the HTTP front component (which then answers
//!   `/healthz` and `/readyz` itself), configured by `SESSIONS_API_TOKEN`,
//!   `SESSIONS_API_AUTH` and `SESSIONS_API_MAX_BODY` (docs/http-api.md).
//! - SIGINT or SIGTERM: stop taking new work, let a running sweep finish,
//!   give the lease back, exit 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_sessions_host::metrics as m;
use agent_sessions_host::{HttpApi, SessionStats, SessionStore};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::{Args, ValueEnum};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use super::Context;
use crate::cli::Failure;
use crate::cli::duration::parse_interval;
use crate::cli::exit_code::Finding;

/// Histogram buckets for latencies, in seconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone)]
struct AppState {
    store: SessionStore,
    metrics: PrometheusHandle,
    /// The HTTP API, with `--api`.
    api: Option<HttpApi>,
}

/// Run as a service: cleanup on a schedule (one replica sweeps per
/// interval, by a lease in Redis), Prometheus metrics on /metrics,
/// /healthz and /readyz, and with --api the HTTP API. Stops on SIGINT or
/// SIGTERM after the current sweep.
#[derive(Debug, Args)]
pub struct Serve {
    /// Address for /metrics, /healthz and /readyz (and the API with --api).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    listen: SocketAddr,
    /// Serve the JSON REST API (the HTTP front component) on the same
    /// address: every path but /metrics. Bearer token from
    /// SESSIONS_API_TOKEN; SESSIONS_API_AUTH=none serves without one;
    /// with neither every request but GET /healthz is refused (401).
    #[arg(long)]
    api: bool,
    /// Time between cleanup runs; each waits up to 10% longer at random,
    /// so that replicas spread out. Seconds as before (60, 0.5), or a
    /// number with ms, s, m, h or d (500ms, 90s, 15m, 2h, 1d); at least 100ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "60s")]
    pub cleanup_interval: Duration,
    /// Time between stats walks that refresh the session gauges: seconds
    /// (60, 0.5), or a number with ms, s, m, h or d; at least 100ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "60s")]
    pub stats_interval: Duration,
    /// Log lines on stderr as text or as JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How `serve` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl Serve {
    /// `--log-format json`.
    pub fn logs_json(&self) -> bool {
        self.log_format == LogFormat::Json
    }

    pub async fn run(self, context: &Context) -> Result<Finding, Failure> {
        if let Err(message) = serve(context.store.clone(), self).await {
            eprintln!("sessions: {message}");
            return Ok(Finding::ServiceFailed);
        }
        Ok(Finding::Done)
    }
}

/// Runs until SIGINT or SIGTERM. Errors are setup failures (cannot listen,
/// cannot install the metrics recorder).
async fn serve(store: SessionStore, options: Serve) -> Result<(), String> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .and_then(|builder| builder.install_recorder())
        .map_err(|e| format!("cannot set up metrics: {e}"))?;
    m::describe();
    let api = if options.api {
        Some(HttpApi::from_env(store.clone()).map_err(|e| format!("cannot start the HTTP API: {e}"))?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let holder = lease_holder();
    tracing::info!(
        listen = %options.listen,
        storage = %store.storage_description(),
        cleanup_interval_s = options.cleanup_interval.as_secs_f64(),
        stats_interval_s = options.stats_interval.as_secs_f64(),
        holder = %holder,
        api = options.api,
        "serving"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_on_schedule(store.clone(), holder, options.cleanup_interval, stop_rx.clone()));
    let watcher = tokio::spawn(watch_sessions(store.clone(), options.stats_interval, stop_rx.clone()));
    let upkeep = {
        let handle = handle.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            while !*stop.borrow() {
                handle.run_upkeep();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.changed() => {}
                }
            }
        })
    };

    let app = match api {
        // The front owns every path but /metrics, /healthz and /readyz included.
        Some(api) => Router::new()
            .route("/metrics", get(metrics))
            .fallback(serve_api)
            .with_state(Arc::new(AppState { store, metrics: handle, api: Some(api) })),
        None => Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .with_state(Arc::new(AppState { store, metrics: handle, api: None })),
    };
    let mut stop = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    });
    let server = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    tracing::info!("shutting down: finishing the current sweep");
    let _ = stop_tx.send(true);
    let _ = sweeper.await;
    let _ = watcher.await;
    let _ = upkeep.await;
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "the HTTP server task failed"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Who holds the lease: host name, process id and start time, so two
/// replicas on one host differ too.
fn lease_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{host}/{}/{started}", std::process::id())
}

/// Up to `interval` / 10 more, from the clock's low bits: spreads replicas
/// that started together; no need for a random number generator.
fn jittered(interval: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    interval + interval.mul_f64(f64::from(nanos % 1000) / 10_000.0)
}

async fn sweep_on_schedule(store: SessionStore, holder: String, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut held = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(jittered(interval)) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        // The lease lasts one interval: the next run, here or elsewhere,
        // takes it anew.
        match store.acquire_cleanup_lease(&holder, interval).await {
            Ok(true) => {
                held = true;
                sweep(&store).await;
            }
            Ok(false) => {
                metrics::counter!(m::CLEANUP_RUNS_TOTAL, "result" => "lease_held").increment(1);
                tracing::debug!("another replica holds the cleanup lease; not sweeping");
            }
            Err(error) => {
                metrics::counter!(m::CLEANUP_RUNS_TOTAL, "result" => "failed").increment(1);
                tracing::warn!(%error, "could not take the cleanup lease");
            }
        }
    }
    if held {
        match store.release_cleanup_lease(&holder).await {
            Ok(released) => tracing::info!(released, "cleanup lease given back"),
            Err(error) => tracing::warn!(%error, "could not give the cleanup lease back; it expires by itself"),
        }
    }
}

async fn sweep(store: &SessionStore) {
    let started = Instant::now();
    match store.cleanup_expired().await {
        Ok(report) => {
            let took = started.elapsed();
            metrics::counter!(m::CLEANUP_RUNS_TOTAL, "result" => "swept").increment(1);
            metrics::counter!(m::CLEANUP_REMOVED_TOTAL).increment(report.removed);
            metrics::histogram!(m::CLEANUP_DURATION_SECONDS).record(took.as_secs_f64());
            tracing::info!(
                removed = report.removed,
                skipped = report.skipped,
                took_ms = took.as_millis() as u64,
                "cleanup swept"
            );
            for problem in &report.problems {
                tracing::warn!(key = %problem.key, member = %problem.field, "cleanup left an entry it cannot judge: {}", problem.message);
            }
        }
        Err(error) => {
            metrics::counter!(m::CLEANUP_RUNS_TOTAL, "result" => "failed").increment(1);
            tracing::warn!(%error, "cleanup failed");
        }
    }
}

/// Refreshes the session gauges and the Redis gauges on a schedule (the
/// first walk right away).
async fn watch_sessions(store: SessionStore, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut statuses_seen = std::collections::BTreeSet::new();
    loop {
        let _ = check_redis(&store).await;
        let started = Instant::now();
        match store.stats(|_| {}).await {
            Ok(stats) => {
                metrics::gauge!(m::STATS_DURATION_SECONDS).set(started.elapsed().as_secs_f64());
                publish(&stats, &mut statuses_seen);
            }
            Err(error) => tracing::warn!(%error, "stats walk failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
}

async fn check_redis(store: &SessionStore) -> Result<Duration, String> {
    match store.kv().backend().ping().await {
        Ok(latency) => {
            metrics::gauge!(m::REDIS_UP).set(1.0);
            metrics::gauge!(m::REDIS_PING_SECONDS).set(latency.as_secs_f64());
            Ok(latency)
        }
        Err(error) => {
            metrics::gauge!(m::REDIS_UP).set(0.0);
            Err(error.message)
        }
    }
}

/// Sets the gauges from a stats walk; a status seen before but not now is
/// set to 0 rather than left at its old value.
fn publish(stats: &SessionStats, statuses_seen: &mut std::collections::BTreeSet<String>) {
    metrics::gauge!(m::SESSIONS).set(stats.sessions as f64);
    metrics::gauge!(m::SESSIONS_BY_ACTIVITY, "active" => "true").set(stats.active as f64);
    metrics::gauge!(m::SESSIONS_BY_ACTIVITY, "active" => "false").set(stats.inactive as f64);
    for status in statuses_seen.iter() {
        if !stats.by_status.iter().any(|(s, _)| s == status) {
            metrics::gauge!(m::SESSIONS_BY_STATUS, "status" => status.clone()).set(0.0);
        }
    }
    for (status, count) in &stats.by_status {
        metrics::gauge!(m::SESSIONS_BY_STATUS, "status" => status.clone()).set(*count as f64);
        statuses_seen.insert(status.clone());
    }
    for bucket in &stats.ttl_buckets {
        let bound = bucket.up_to_seconds.map_or_else(|| "+Inf".to_owned(), |s| s.to_string());
        metrics::gauge!(m::SESSIONS_BY_REMAINING_TTL, "up_to_seconds" => bound).set(bucket.count as f64);
    }
    metrics::gauge!(m::EXPIRED_AWAITING_CLEANUP).set(stats.expired_awaiting_cleanup as f64);
    for (kind, count) in [
        ("members_without_keys", stats.members_without_keys),
        ("keys_without_members", stats.keys_without_members),
        ("keys_without_ttl", stats.keys_without_ttl),
    ] {
        metrics::gauge!(m::INCONSISTENCIES, "kind" => kind).set(count as f64);
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Redis up/latency are fresh at every scrape; session gauges come from
    // the last stats walk (a scrape never walks the keyspace).
    let _ = check_redis(&state.store).await;
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// A request for the HTTP API (routed here only when there is one).
async fn serve_api(State(state): State<Arc<AppState>>, request: Request) -> axum::response::Response<Body> {
    match &state.api {
        Some(api) => api.handle(request).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store.health().await {
        Ok(health) => {
            let ping_ms = health.storage_latency.as_secs_f64() * 1e3;
            (StatusCode::OK, format!("ready: Redis answers ({ping_ms:.3} ms), component runs\n"))
        }
        Err(error) => {
            metrics::gauge!(m::REDIS_UP).set(0.0);
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}\n"))
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
