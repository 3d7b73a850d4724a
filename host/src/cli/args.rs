//! The command line, as clap derive structs; doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 other failure, 2 usage or invalid input, 3 not found,
4 conflict, 5 Redis unavailable or timed out, 6 corrupt stored data.

Examples:
  sessions create --model-id gpt-4 --persona-id programmer --tool search
  sessions --json get 0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10
  sessions update ID --status completed --expect-version 1
  sessions --memory demo";

/// Agent session store: the session repository, run as a sandboxed
/// WebAssembly component over Redis.
#[derive(Debug, Parser)]
#[command(name = "sessions", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Redis URL: redis://[user:password@]host[:port][/db].
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

    /// Session lifetime without activity, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = agent_sessions_host::DEFAULT_SESSION_TTL_SECONDS, global = true, help_heading = "Global options")]
    pub ttl: u64,

    /// How much longer a session's hashes live than the session, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = agent_sessions_host::DEFAULT_GRACE_SECONDS, global = true, help_heading = "Global options")]
    pub grace: u64,

    /// Run this component .wasm instead of the embedded one.
    #[arg(long, value_name = "PATH", global = true, help_heading = "Global options")]
    pub component: Option<PathBuf>,

    /// Longest one operation may take, in seconds (Redis round trips included).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, global = true, help_heading = "Global options")]
    pub timeout: f64,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a session and print it.
    Create {
        #[command(flatten)]
        fields: DataFlags,
        /// Read the fields from a JSON object (design document field names);
        /// "-" reads stdin. Flags override what the file says.
        #[arg(long, value_name = "FILE")]
        from_json: Option<String>,
    },
    /// Print a session.
    Get {
        /// Session id (a UUID).
        id: String,
    },
    /// Change fields of a session; bumps its version and resets its TTL.
    Update {
        /// Session id (a UUID).
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
        /// Session id (a UUID).
        id: String,
    },
    /// List sessions, newest first.
    List {
        /// Sessions per page (0 to 1000).
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Sessions to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Reset a session's TTL (and last_activity); exit 3 if it is gone.
    Extend {
        /// Session id (a UUID).
        id: String,
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
        /// Seconds between cleanup runs; each waits up to 10% longer at
        /// random, so that replicas spread out.
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        cleanup_interval: f64,
        /// Seconds between stats walks that refresh the session gauges.
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        stats_interval: f64,
        /// Log lines on stderr as text or as JSON objects.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Run a whole session lifecycle and narrate each step.
    Demo,
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
