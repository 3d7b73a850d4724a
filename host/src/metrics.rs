//! Prometheus metric names, recorded through the `metrics` facade: the
//! library records operation counts, errors and latencies whatever recorder
//! the embedder installs (none: nothing is recorded); `sessions serve`
//! installs the Prometheus exporter and adds the gauges below.

use std::time::Duration;

use crate::error::Error;

/// Counter: repository operations by `operation` and `result` (`ok` or an
/// error kind).
pub const OPERATIONS_TOTAL: &str = "agent_sessions_operations_total";
/// Histogram: operation latency in seconds, by `operation`.
pub const OPERATION_DURATION_SECONDS: &str = "agent_sessions_operation_duration_seconds";
/// Counter: failed operations by error `kind`.
pub const ERRORS_TOTAL: &str = "agent_sessions_errors_total";

/// Counter: requests the HTTP API (`sessions serve --api`) answered, by
/// `operation` (the repository function the request called, `_` for `-`;
/// `none` when it called none) and `status` (the HTTP status code).
pub const HTTP_REQUESTS_TOTAL: &str = "agent_sessions_http_requests_total";
/// Histogram: seconds from a request's arrival to its response's head, by
/// `operation` and `status` as above.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "agent_sessions_http_request_duration_seconds";

/// Gauge: live sessions (last stats walk).
pub const SESSIONS: &str = "agent_sessions_sessions";
/// Gauge: live sessions by `status`.
pub const SESSIONS_BY_STATUS: &str = "agent_sessions_sessions_by_status";
/// Gauge: live sessions with is_active true (`active="true"`) and false.
pub const SESSIONS_BY_ACTIVITY: &str = "agent_sessions_sessions_by_activity";
/// Gauge: live sessions by remaining TTL, `up_to_seconds` ("+Inf" for the last).
pub const SESSIONS_BY_REMAINING_TTL: &str = "agent_sessions_sessions_by_remaining_ttl";
/// Gauge: expired sessions whose leftovers cleanup has not removed yet.
pub const EXPIRED_AWAITING_CLEANUP: &str = "agent_sessions_expired_awaiting_cleanup";
/// Gauge: inconsistencies by `kind` (members_without_keys,
/// keys_without_members, keys_without_ttl).
pub const INCONSISTENCIES: &str = "agent_sessions_inconsistencies";
/// Gauge: seconds the last stats walk took.
pub const STATS_DURATION_SECONDS: &str = "agent_sessions_stats_duration_seconds";
/// Counter: scheduled cleanup runs by `result` (swept, lease_held, failed).
pub const CLEANUP_RUNS_TOTAL: &str = "agent_sessions_cleanup_runs_total";
/// Counter: sessions removed by scheduled cleanup.
pub const CLEANUP_REMOVED_TOTAL: &str = "agent_sessions_cleanup_removed_total";
/// Histogram: seconds a cleanup sweep took.
pub const CLEANUP_DURATION_SECONDS: &str = "agent_sessions_cleanup_duration_seconds";
/// Gauge: 1 when the last check reached Redis, else 0.
pub const REDIS_UP: &str = "agent_sessions_redis_up";
/// Gauge: round-trip time of the last Redis PING, in seconds.
pub const REDIS_PING_SECONDS: &str = "agent_sessions_redis_ping_seconds";

/// Registers help texts with the installed recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(OPERATIONS_TOTAL, "Repository operations by operation and result");
    describe_histogram!(OPERATION_DURATION_SECONDS, Unit::Seconds, "Repository operation latency");
    describe_counter!(ERRORS_TOTAL, "Failed repository operations by error kind");
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP API requests by repository operation and status");
    describe_histogram!(HTTP_REQUEST_DURATION_SECONDS, Unit::Seconds, "HTTP API latency to the response head");
    describe_gauge!(SESSIONS, "Live sessions (last stats walk)");
    describe_gauge!(SESSIONS_BY_STATUS, "Live sessions by status (last stats walk)");
    describe_gauge!(SESSIONS_BY_ACTIVITY, "Live sessions by is_active (last stats walk)");
    describe_gauge!(SESSIONS_BY_REMAINING_TTL, "Live sessions by remaining TTL bucket (last stats walk)");
    describe_gauge!(EXPIRED_AWAITING_CLEANUP, "Expired sessions whose keys cleanup has not removed yet");
    describe_gauge!(INCONSISTENCIES, "Inconsistencies in the keyspace by kind (last stats walk)");
    describe_gauge!(STATS_DURATION_SECONDS, Unit::Seconds, "Duration of the last stats walk");
    describe_counter!(CLEANUP_RUNS_TOTAL, "Scheduled cleanup runs by result");
    describe_counter!(CLEANUP_REMOVED_TOTAL, "Sessions removed by scheduled cleanup");
    describe_histogram!(CLEANUP_DURATION_SECONDS, Unit::Seconds, "Duration of cleanup sweeps");
    describe_gauge!(REDIS_UP, "1 when Redis answered the last check");
    describe_gauge!(REDIS_PING_SECONDS, Unit::Seconds, "Round-trip time of the last Redis PING");
}

/// The `result` / `kind` label of an error.
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput(_) => "invalid_input",
        Error::NotFound(_) => "not_found",
        Error::Conflict(_) => "conflict",
        Error::DataCorrupt(_) => "data_corrupt",
        Error::Unavailable(_) => "unavailable",
        Error::NotReplicated(_) => "not_replicated",
        Error::Backend { .. } => "backend",
        Error::Timeout(_) | Error::StorageTimeout(_) => "timeout",
        Error::Guest(_) => "guest",
        Error::Setup(_) => "setup",
    }
}

/// Records one operation under its WIT name with `_` for `-`
/// (`extend_ttl`), the labels dashboards have always seen.
pub(crate) fn record_operation<T>(operation: &str, elapsed: Duration, result: &Result<T, Error>) {
    let operation = operation.replace('-', "_");
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => {
            let kind = error_kind(error);
            metrics::counter!(ERRORS_TOTAL, "kind" => kind).increment(1);
            kind
        }
    };
    metrics::counter!(OPERATIONS_TOTAL, "operation" => operation.clone(), "result" => outcome).increment(1);
    metrics::histogram!(OPERATION_DURATION_SECONDS, "operation" => operation).record(elapsed.as_secs_f64());
}

/// Records one HTTP API request.
pub(crate) fn record_http_request(operation: Option<&str>, status: u16, elapsed: Duration) {
    let operation = operation.map_or_else(|| "none".to_owned(), |name| name.replace('-', "_"));
    let status = status.to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "operation" => operation.clone(), "status" => status.clone()).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "operation" => operation, "status" => status)
        .record(elapsed.as_secs_f64());
}
