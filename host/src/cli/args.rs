//! The command line, as clap derive structs; doc comments are the help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 other failure, 2 usage or invalid input, 3 not found,
4 conflict, 5 Redis unavailable or timed out, 6 corrupt stored data,
7 write applied but not confirmed by the --wait-replicas replicas.

Examples:
  sessions create --model-id gpt-4 --persona-id programmer --tool search
  sessions create --id chat-42 --model-id gpt-4
  sessions --json get 0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10
  sessions update ID --status completed --expect-version 1
  sessions add-items chat-42 --from-json messages.jsonl --create-if-missing gpt-4
  sessions items chat-42 --limit 20
  sessions create --id s1 --model-id m --app-name shop --user-id ana
  sessions list --app-name shop --user-id ana
  sessions --memory demo";

/// Agent session store: the session repository, run as a sandboxed
/// WebAssembly component over Redis.
#[derive(Debug, Parser)]
#[command(name = "sessions", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Redis URL: redis://[user:password@]host[:port][/db]; for a Redis
    /// Cluster, one node's URL or several, comma-separated.
    // hide_env_values: --help must not print a password from $REDIS_URL.
    #[arg(
        long,
        value_name = "URL",
        env = "REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379",
        global = true,
        help_heading = "Global options"
    )]
    pub redis: String,

    /// PEM file of the CA to trust for rediss:// (default: the system's).
    #[arg(long, value_name = "FILE", env = "SESSIONS_TLS_CA", global = true, help_heading = "Global options")]
    pub tls_ca: Option<PathBuf>,

    /// Treat the server as a Redis Cluster without asking it (by default
    /// `INFO cluster` of the first seed that answers decides).
    #[arg(long, env = "SESSIONS_CLUSTER", global = true, help_heading = "Global options")]
    pub cluster: bool,

    /// Key layout: `document` (the design document's keys; the default on
    /// one server) or `sharded` (every key carries its shard's hash tag;
    /// the default and the only choice on a Redis Cluster). Recorded in
    /// Redis the first time; a store with another layout refuses to start.
    #[arg(long, value_enum, env = "SESSIONS_LAYOUT", global = true, help_heading = "Global options")]
    pub layout: Option<LayoutChoice>,

    /// Shards of the sharded layout (1 to 16384; implies --layout sharded).
    #[arg(long, value_name = "N", env = "SESSIONS_SHARDS", value_parser = clap::value_parser!(u32).range(1..=16384), global = true, help_heading = "Global options")]
    pub shards: Option<u32>,

    /// Acknowledge a write only once N replicas have it (Redis WAIT after
    /// the write); exit 7 if fewer confirm within --wait-timeout.
    #[arg(long, value_name = "N", env = "SESSIONS_WAIT_REPLICAS", global = true, help_heading = "Global options")]
    pub wait_replicas: Option<u32>,

    /// How long --wait-replicas waits for the replicas (250ms, 1s, ...).
    /// Writes to a primary that lacks replicas take turns of this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "250ms", global = true, help_heading = "Global options")]
    pub wait_timeout: Duration,

    /// Keep sessions in an in-memory store instead of Redis (lost on exit;
    /// for trying things out).
    #[arg(long, global = true, help_heading = "Global options")]
    pub memory: bool,

    /// Prefix for every Redis key (default: none, the design document's layout).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "SESSIONS_PREFIX",
        default_value = "",
        global = true,
        help_heading = "Global options"
    )]
    pub prefix: String,

    /// Session lifetime without activity: whole seconds (90), or a number
    /// with s, m, h or d (90s, 15m, 2h, 1d).
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl, default_value_t = agent_sessions_host::DEFAULT_SESSION_TTL_SECONDS, global = true, help_heading = "Global options")]
    pub ttl: u64,

    /// How much longer a session's hashes live than the session: whole
    /// seconds (300), or a number with s, m, h or d (90s, 5m, 2h, 1d).
    #[arg(long, value_name = "DURATION", value_parser = parse_grace, default_value_t = agent_sessions_host::DEFAULT_GRACE_SECONDS, global = true, help_heading = "Global options")]
    pub grace: u64,

    /// Run this component .wasm instead of the embedded one.
    #[arg(long, value_name = "PATH", global = true, help_heading = "Global options")]
    pub component: Option<PathBuf>,

    /// Longest one operation may take (Redis round trips included): seconds
    /// as before (30, 0.5), or a number with ms, s, m, h or d (500ms, 90s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, default_value = "30s", global = true, help_heading = "Global options")]
    pub timeout: Duration,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// `--layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutChoice {
    /// The design document's keys: one `active_sessions`, one `session_index`.
    Document,
    /// Every key carries its shard's hash tag (Redis Cluster).
    Sharded,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a session and print it.
    Create {
        /// Choose the session's id instead of a fresh UUID v4: a UUID
        /// (hyphenated, either case; stored lowercase) or 1 to 128 characters
        /// of A-Z, a-z, 0-9, '.', '_' and '-' (case-sensitive, stored as
        /// given). Exit 4 if a live session has it; the leftovers of an
        /// expired one are replaced.
        #[arg(long, value_name = "ID", help_heading = FIELDS)]
        id: Option<String>,
        #[command(flatten)]
        fields: DataFlags,
        /// The app the session belongs to (with --user-id): for frameworks
        /// that scope sessions by app and user (Google ADK). Never changed
        /// afterwards; `list --app-name` lists an owner's sessions.
        #[arg(long, value_name = "APP", requires = "user_id", help_heading = FIELDS)]
        app_name: Option<String>,
        /// The user the session belongs to (with --app-name).
        #[arg(long, value_name = "USER", requires = "app_name", help_heading = FIELDS)]
        user_id: Option<String>,
        /// Initial state, a JSON object of keys to JSON values: `app:` and
        /// `user:` keys go to the owner's shared state (they need
        /// --app-name and --user-id), `temp:` keys are dropped, the others
        /// are the session's own.
        #[arg(long, value_name = "JSON", help_heading = FIELDS)]
        state_json: Option<String>,
        /// Read the fields from a JSON object (design document field names;
        /// an `id` there chooses the id as --id does); "-" reads stdin.
        /// Flags override what the file says.
        #[arg(long, value_name = "FILE")]
        from_json: Option<String>,
    },
    /// Print a session.
    Get {
        /// Session id (a UUID, or a caller-chosen id; see create --id).
        id: String,
    },
    /// Change fields of a session; bumps its version and resets its TTL.
    Update {
        /// Session id (a UUID, or a caller-chosen id; see create --id).
        id: String,
        #[command(flatten)]
        fields: DataFlags,
        /// Reset a field to absent (repeatable).
        #[arg(long, value_enum, value_name = "FIELD")]
        clear: Vec<ClearableField>,
        /// Only update if the session is at this version (compare-and-set);
        /// exit 4 otherwise.
        #[arg(long, value_name = "N")]
        expect_version: Option<u64>,
        /// Read the changes from a JSON object; "-" reads stdin.
        #[arg(long, value_name = "FILE")]
        from_json: Option<String>,
    },
    /// Delete a session and all its keys; exit 3 if it was not live.
    Delete {
        /// Session id (a UUID, or a caller-chosen id; see create --id).
        id: String,
    },
    /// List sessions, newest first (with --app-name, an owner's sessions).
    ///
    /// With --app-name, the sessions created with that owner, most recently
    /// updated first, from the owner index.
    List {
        /// Sessions per page (0 to 1000; 1 to 1000 with --app-name).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Sessions to skip (costs O(offset); see --page-token).
        #[arg(long, default_value_t = 0, conflicts_with_all = ["page_token", "app_name"])]
        offset: u64,
        /// Continue after the page that printed this token (its
        /// `next_page_token`): stable while sessions are added, and as cheap
        /// deep in the list as at its start.
        #[arg(long)]
        page_token: Option<String>,
        /// List the sessions of this app (created with --app-name), most
        /// recently updated first, from its owner index.
        #[arg(long, value_name = "APP")]
        app_name: Option<String>,
        /// Only this user's sessions of the app (default: every user's).
        #[arg(long, value_name = "USER", requires = "app_name")]
        user_id: Option<String>,
    },
    /// Reset a session's TTL (and last_activity); exit 3 if it is gone.
    Extend {
        /// Session id (a UUID, or a caller-chosen id; see create --id).
        id: String,
    },
    /// Print a session's conversation items, oldest first.
    ///
    /// One JSON item per line (an item stored over several lines is printed
    /// on one); with --json, the `items-page` document. Every item unless
    /// --limit or --range says otherwise, read in pages of up to 1000.
    /// Exit 3 if the session is not live.
    Items {
        /// Session id.
        id: String,
        /// Only the newest N items (0 prints none; count-items counts).
        #[arg(long, value_name = "N", conflicts_with = "range")]
        limit: Option<u32>,
        /// Only the items at positions START to STOP, both included (0 is
        /// the oldest); START: reads from START to the newest.
        #[arg(long, value_name = "START:STOP", value_parser = parse_range)]
        range: Option<ItemRange>,
        #[command(flatten)]
        owner: OwnerFlags,
    },
    /// Append items to a session's conversation and print the receipt.
    ///
    /// The receipt says the session's version and item count afterwards.
    /// Each call appends up to 1000 items (2 MiB) as one atomic step; more
    /// are sent in several calls, in order, and if one fails the earlier
    /// ones stay. Refreshes the session's TTL and bumps its version.
    AddItems {
        /// Session id.
        id: String,
        /// The items: a JSON array, or JSON Lines (one item per line);
        /// "-" reads stdin. Each item is stored as the JSON text given.
        #[arg(long, value_name = "FILE", required = true)]
        from_json: String,
        /// Keep only the newest N items (1 to 10000), trimmed in the same
        /// step; without it a session holds at most 10000 items.
        #[arg(long, value_name = "N")]
        keep_last: Option<u32>,
        /// Only append if the session is at this version (compare-and-set);
        /// exit 4 otherwise. Later calls of a split append each expect the
        /// version the previous one left.
        #[arg(long, value_name = "N")]
        expect_version: Option<u64>,
        /// If no live session has this id, create one with this model_id
        /// (and the --app-name/--user-id owner) first.
        #[arg(long, value_name = "MODEL_ID")]
        create_if_missing: Option<String>,
        #[command(flatten)]
        owner: OwnerFlags,
    },
    /// Remove a session's newest item and print it.
    ///
    /// A session without items prints nothing and writes nothing (exit 0).
    PopItem {
        /// Session id.
        id: String,
        /// Only if the session is at this version; exit 4 otherwise.
        #[arg(long, value_name = "N")]
        expect_version: Option<u64>,
        #[command(flatten)]
        owner: OwnerFlags,
    },
    /// Remove every item of a session; the session and its state stay.
    ClearItems {
        /// Session id.
        id: String,
        /// Only if the session is at this version; exit 4 otherwise.
        #[arg(long, value_name = "N")]
        expect_version: Option<u64>,
        #[command(flatten)]
        owner: OwnerFlags,
    },
    /// Print how many items a session holds.
    CountItems {
        /// Session id.
        id: String,
        #[command(flatten)]
        owner: OwnerFlags,
    },
    /// Remove every expired session's leftovers; print how many.
    Cleanup,
    /// Add sessions written by another service to the list index.
    Reindex,
    /// Count sessions (by status, remaining TTL) and find inconsistencies,
    /// walking Redis with SCAN in bounded batches (never blocks it).
    Stats {
        /// Keys per SCAN step.
        #[arg(long, value_name = "N", default_value_t = agent_sessions_host::DEFAULT_BATCH_SIZE)]
        batch_size: u32,
    },
    /// Write every live session as JSON Lines (both hashes as stored and
    /// the remaining TTL), streamed; progress on stderr when it is a terminal.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<String>,
    },
    /// Load sessions from JSON Lines: `sessions export` lines, or the typed
    /// form `sessions get --json` prints (sessions from another store). Every
    /// line is validated first; nothing is written if one is bad.
    Import {
        /// The file, or "-" for stdin.
        #[arg(value_name = "FILE")]
        source: String,
        /// What to do with a session whose id is already stored.
        #[arg(long, value_enum, default_value_t = OnConflict::Skip)]
        on_conflict: OnConflict,
        /// Import the valid lines and report the bad ones, instead of
        /// writing nothing.
        #[arg(long)]
        skip_invalid: bool,
        /// Sessions per Redis round trip.
        #[arg(long, value_name = "N", default_value_t = 500)]
        batch: usize,
        /// Validate and count, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Bring sessions another service wrote in the design document's layout
    /// up to ours: list index entries, TTLs on the hashes, schema_version.
    /// Idempotent; prints a cursor to resume from if it is cut off.
    Migrate {
        /// Count what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Resume from this cursor (printed when a run stops).
        #[arg(long, value_name = "CURSOR", default_value = "")]
        from: String,
    },
    /// Check Redis (reachable, latency) and the component (loads, answers).
    Health,
    /// Run as a service: cleanup on a schedule (one replica sweeps per
    /// interval, by a lease in Redis), Prometheus metrics on /metrics,
    /// /healthz and /readyz. Stops on SIGINT or SIGTERM after the current sweep.
    Serve {
        /// Address for /metrics, /healthz and /readyz.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
        listen: std::net::SocketAddr,
        /// Time between cleanup runs; each waits up to 10% longer at random,
        /// so that replicas spread out. Seconds as before (60, 0.5), or a
        /// number with ms, s, m, h or d (500ms, 90s, 15m, 2h, 1d); at least 100ms.
        #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "60s")]
        cleanup_interval: Duration,
        /// Time between stats walks that refresh the session gauges: seconds
        /// (60, 0.5), or a number with ms, s, m, h or d; at least 100ms.
        #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "60s")]
        stats_interval: Duration,
        /// Log lines on stderr as text or as JSON objects.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Run a whole session lifecycle and narrate each step.
    Demo,
}

/// What `--ttl` and `--grace` accept, for their error messages.
const WHOLE_FORMS: &str = "use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d";
/// What the options that allow less than a second accept.
const FINE_FORMS: &str =
    "use a number of seconds or a number with ms, s, m, h or d, e.g. 90, 0.5, 500ms, 90s, 15m, 2h, 1d";

/// Nanoseconds in one of each unit; a number without one is seconds.
const UNITS: [(&str, u128); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Why a duration was refused; the caller adds which forms it takes.
#[derive(Debug, PartialEq, Eq)]
enum DurationError {
    /// Not a number with a known unit.
    Malformed,
    /// More than `Duration` holds.
    TooLarge,
}

/// Parses `90`, `0.5`, `500ms`, `90s`, `1.5m`, `2h`, `1d`: a decimal number
/// (digits, at most one point, no sign or exponent) and an optional unit.
/// Exact to the nanosecond; finer fractions are cut off.
fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos = if unit.is_empty() {
        1_000_000_000
    } else {
        UNITS.iter().find(|(name, _)| *name == unit).ok_or(DurationError::Malformed)?.1
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(DurationError::Malformed);
    }
    // Digits past the ninth cannot matter once multiplied by at most a day
    // in nanoseconds and divided back; dropping them keeps the arithmetic in u128.
    let fraction = &fraction[..fraction.len().min(9)];
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| DurationError::TooLarge)? };
    let fraction_nanos = if fraction.is_empty() {
        0
    } else {
        let digits: u128 = fraction.parse().map_err(|_| DurationError::Malformed)?;
        digits * unit_nanos / 10u128.pow(fraction.len() as u32)
    };
    let nanos =
        whole.checked_mul(unit_nanos).and_then(|n| n.checked_add(fraction_nanos)).ok_or(DurationError::TooLarge)?;
    let seconds = u64::try_from(nanos / 1_000_000_000).map_err(|_| DurationError::TooLarge)?;
    Ok(Duration::new(seconds, (nanos % 1_000_000_000) as u32))
}

fn invalid(text: &str, error: DurationError, forms: &str) -> String {
    match error {
        DurationError::Malformed => format!("invalid duration '{text}': {forms}"),
        DurationError::TooLarge => format!("invalid duration '{text}': too large"),
    }
}

/// A whole number of seconds, for the options the component counts in seconds.
fn whole_seconds(text: &str) -> Result<u64, String> {
    let duration = parse_duration(text).map_err(|e| invalid(text, e, WHOLE_FORMS))?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("invalid duration '{text}': must be a whole number of seconds; {WHOLE_FORMS}"));
    }
    Ok(duration.as_secs())
}

/// `--ttl`: at least one second (the component checks the upper bound).
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    match whole_seconds(text)? {
        0 => Err(format!("invalid duration '{text}': a session lives at least 1s")),
        seconds => Ok(seconds),
    }
}

/// `--grace`: zero or more seconds (the component checks the upper bound).
pub fn parse_grace(text: &str) -> Result<u64, String> {
    whole_seconds(text)
}

/// `--timeout`: more than zero; fractions of a second allowed.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text).map_err(|e| invalid(text, e, FINE_FORMS))? {
        Duration::ZERO => Err(format!("invalid duration '{text}': a timeout must be more than 0")),
        duration => Ok(duration),
    }
}

/// `serve --cleanup-interval` and `--stats-interval`: at least 100 ms, so
/// a typo cannot make the service spin.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text).map_err(|e| invalid(text, e, FINE_FORMS))?;
    if duration < Duration::from_millis(100) {
        return Err(format!("invalid duration '{text}': an interval must be at least 100ms"));
    }
    Ok(duration)
}

const FIELDS: &str = "Session fields";

/// One flag per data field, plus status.
#[derive(Debug, Clone, Args, Default)]
pub struct DataFlags {
    /// Model the agent runs, e.g. gpt-4 (required on create).
    #[arg(long, value_name = "ID", help_heading = FIELDS)]
    pub model_id: Option<String>,
    /// Persona the agent plays, e.g. programmer.
    #[arg(long, value_name = "ID", help_heading = FIELDS)]
    pub persona_id: Option<String>,
    /// Display name of the session.
    #[arg(long, value_name = "TEXT", help_heading = FIELDS)]
    pub name: Option<String>,
    /// Sampling temperature, 0.0 to 2.0.
    #[arg(long, value_name = "NUMBER", allow_negative_numbers = true, help_heading = FIELDS)]
    pub temperature: Option<f64>,
    /// Reasoning effort, 0 to 10.
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = FIELDS)]
    pub reasoning_effort: Option<i64>,
    /// Token limit, 1 to 1000000.
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = FIELDS)]
    pub max_tokens: Option<i64>,
    /// A tool the agent may use (repeatable; on update, replaces the list).
    #[arg(long = "tool", value_name = "TOOL", help_heading = FIELDS)]
    pub tools: Vec<String>,
    /// Extra system prompt text.
    #[arg(long, value_name = "TEXT", help_heading = FIELDS)]
    pub custom_prompt: Option<String>,
    /// The agent runtime's own id for this session.
    #[arg(long, value_name = "ID", help_heading = FIELDS)]
    pub agent_internal_id: Option<String>,
    /// running, idle, paused (active) or completed, failed, cancelled.
    #[arg(long, value_name = "STATUS", help_heading = FIELDS)]
    pub status: Option<String>,
}

/// The owner the items commands may name: a session of another owner is
/// not found to them (exit 3).
#[derive(Debug, Clone, Args, Default)]
pub struct OwnerFlags {
    /// Only if the session belongs to this app (with --user-id); a session
    /// of another owner is not found (exit 3).
    #[arg(long, value_name = "APP", requires = "user_id")]
    pub app_name: Option<String>,
    /// Only if the session belongs to this user (with --app-name).
    #[arg(long, value_name = "USER", requires = "app_name")]
    pub user_id: Option<String>,
}

/// `items --range START:STOP`: positions from the oldest item (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRange {
    pub start: u64,
    /// None: to the newest.
    pub stop: Option<u64>,
}

/// Parses `START:STOP` or `START:`.
pub fn parse_range(text: &str) -> Result<ItemRange, String> {
    let invalid =
        || format!("invalid range '{text}': use START:STOP or START: with positions from 0 (the oldest item)");
    let (start, stop) = text.split_once(':').ok_or_else(invalid)?;
    // Digits only (no sign), at most i64::MAX: what the component takes.
    let position =
        |part: &str| part.parse::<i64>().ok().filter(|_| part.bytes().all(|b| b.is_ascii_digit())).map(|n| n as u64);
    let start = position(start).ok_or_else(invalid)?;
    let stop = match stop {
        "" => None,
        stop => Some(position(stop).ok_or_else(invalid)?),
    };
    if stop.is_some_and(|stop| stop < start) {
        return Err(format!("invalid range '{text}': STOP must not be before START"));
    }
    Ok(ItemRange { start, stop })
}

/// `import --on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    /// Keep the stored session.
    Skip,
    /// Replace it with the line's.
    Overwrite,
    /// Write nothing if any line's id is stored (exit 4).
    Fail,
}

/// How `serve` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Fields `update --clear` can reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ClearableField {
    PersonaId,
    Name,
    Temperature,
    ReasoningEffort,
    MaxTokens,
    Tools,
    CustomPrompt,
    AgentInternalId,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[test]
    fn each_unit_and_a_plain_number() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(2 * 3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn fractions_are_exact() {
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(".25s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        // Past nanoseconds the digits are cut off, not rounded or refused.
        assert_eq!(parse_duration("0.0000000019"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn garbage_is_refused() {
        for text in
            ["", "15x", "x", "s", ".", "1.2.3", "-1", "+1", "1e3", "inf", "NaN", " 90", "90 s", "1M", "1h30m", "0x10"]
        {
            assert_eq!(parse_duration(text), Err(DurationError::Malformed), "{text:?}");
        }
    }

    #[test]
    fn overflow_is_refused() {
        assert_eq!(parse_duration("18446744073709551615"), Ok(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_duration("18446744073709551616"), Err(DurationError::TooLarge));
        assert_eq!(parse_duration("213503982334601d"), Ok(Duration::from_secs(213_503_982_334_601 * 86_400)));
        assert_eq!(parse_duration("213503982334602d"), Err(DurationError::TooLarge));
        assert_eq!(parse_duration(&"9".repeat(60)), Err(DurationError::TooLarge));
        assert_eq!(
            parse_ttl("99999999999999999999d"),
            Err("invalid duration '99999999999999999999d': too large".to_owned())
        );
    }

    #[test]
    fn ttl_and_grace_take_whole_seconds() {
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1.5m"), Ok(90));
        assert_eq!(parse_grace("0"), Ok(0));
        assert_eq!(parse_grace("5m"), Ok(300));
        assert_eq!(
            parse_ttl("15x"),
            Err("invalid duration '15x': use a number of seconds or a number with s, m, h or d, e.g. 90, 90s, 15m, 2h, 1d"
                .to_owned())
        );
        for text in ["500ms", "0.5", "1.5s"] {
            let error = parse_ttl(text).unwrap_err();
            assert!(error.contains("whole number of seconds"), "{error}");
        }
        assert!(parse_ttl("0").unwrap_err().contains("at least 1s"));
        assert!(parse_ttl("0d").is_err());
    }

    #[test]
    fn timeout_and_intervals_take_fractions_of_a_second() {
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("0").unwrap_err().contains("more than 0"));
        assert!(parse_timeout("0ms").is_err());
        assert!(parse_timeout("15x").unwrap_err().contains("ms, s, m, h or d"));
        assert_eq!(parse_interval("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_interval("99ms").unwrap_err().contains("at least 100ms"));
        assert!(parse_interval("0").is_err());
    }

    #[test]
    fn item_ranges() {
        assert_eq!(parse_range("0:9"), Ok(ItemRange { start: 0, stop: Some(9) }));
        assert_eq!(parse_range("5:5"), Ok(ItemRange { start: 5, stop: Some(5) }));
        assert_eq!(parse_range("12:"), Ok(ItemRange { start: 12, stop: None }));
        for text in ["", ":", ":5", "5", "-1:3", "+1:3", "1:-1", "a:b", "1:2:3", " 1:2", "99999999999999999999:"] {
            assert!(parse_range(text).unwrap_err().contains("START:STOP"), "{text:?}");
        }
        assert!(parse_range("5:2").unwrap_err().contains("before START"));
    }

    #[test]
    fn owner_flags_come_in_pairs() {
        let cli = Cli::try_parse_from(["sessions", "items", "s1", "--app-name", "a", "--user-id", "u"]).unwrap();
        match cli.command {
            Command::Items { owner, .. } => {
                assert_eq!((owner.app_name.as_deref(), owner.user_id.as_deref()), (Some("a"), Some("u")))
            }
            other => panic!("{other:?}"),
        }
        for args in [
            vec!["sessions", "items", "s1", "--app-name", "a"],
            vec!["sessions", "create", "--model-id", "m", "--user-id", "u"],
            vec!["sessions", "list", "--user-id", "u"],
            vec!["sessions", "list", "--app-name", "a", "--offset", "3"],
            vec!["sessions", "items", "s1", "--limit", "3", "--range", "0:2"],
            vec!["sessions", "add-items", "s1"],
        ] {
            let error = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn defaults_parse_and_bad_values_are_usage_errors() {
        let cli = Cli::try_parse_from(["sessions", "serve"]).unwrap();
        assert_eq!((cli.ttl, cli.grace, cli.timeout), (3600, 300, Duration::from_secs(30)));
        match cli.command {
            Command::Serve { cleanup_interval, stats_interval, .. } => {
                assert_eq!((cleanup_interval, stats_interval), (Duration::from_secs(60), Duration::from_secs(60)));
            }
            other => panic!("{other:?}"),
        }
        let cli =
            Cli::try_parse_from(["sessions", "--ttl", "2h", "--grace", "1m", "--timeout", "500ms", "health"]).unwrap();
        assert_eq!((cli.ttl, cli.grace, cli.timeout), (7200, 60, Duration::from_millis(500)));
        let error = Cli::try_parse_from(["sessions", "health", "--ttl", "15x"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        assert_eq!(error.exit_code(), 2);
    }
}
