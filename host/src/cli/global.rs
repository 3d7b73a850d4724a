//! The options every command takes (`sessions --help`'s "Global options")
//! and the store they describe.

use std::path::PathBuf;
use std::time::Duration;

use agent_sessions_host::{GuestLimits, RedisOptions, SessionStore, WaitReplicas};
use clap::{Parser, ValueEnum};

use super::duration::{parse_grace, parse_timeout, parse_ttl};
use super::input::InputError;
use super::{Command, Failure};

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
    #[arg(long, value_name = "DURATION", env = "SESSIONS_TTL", value_parser = parse_ttl, default_value_t = agent_sessions_host::DEFAULT_SESSION_TTL_SECONDS, global = true, help_heading = "Global options")]
    pub ttl: u64,

    /// How much longer a session's hashes live than the session: whole
    /// seconds (300), or a number with s, m, h or d (90s, 5m, 2h, 1d).
    #[arg(long, value_name = "DURATION", env = "SESSIONS_GRACE", value_parser = parse_grace, default_value_t = agent_sessions_host::DEFAULT_GRACE_SECONDS, global = true, help_heading = "Global options")]
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

pub async fn build_store(cli: &Cli) -> Result<SessionStore, Failure> {
    let mut builder = SessionStore::builder()
        .prefix(cli.prefix.clone())
        .session_ttl(Duration::from_secs(cli.ttl))
        .grace_period(Duration::from_secs(cli.grace))
        .limits(GuestLimits { timeout: cli.timeout, ..GuestLimits::default() });
    builder = if cli.memory {
        builder.memory()
    } else {
        let options = RedisOptions {
            tls_ca_file: cli.tls_ca.clone(),
            cluster: cli.cluster,
            wait_replicas: cli.wait_replicas.map(|replicas| WaitReplicas { replicas, timeout: cli.wait_timeout }),
            ..RedisOptions::default()
        };
        builder.redis_with_options(cli.redis.clone(), options)
    };
    builder = match (cli.layout, cli.shards) {
        (Some(LayoutChoice::Document), Some(_)) => {
            return Err(InputError("--shards belongs to --layout sharded, not --layout document".into()).into());
        }
        (Some(LayoutChoice::Document), None) => builder.shards(0),
        (_, Some(shards)) => builder.shards(shards),
        (Some(LayoutChoice::Sharded), None) => builder.shards(agent_sessions_host::DEFAULT_SHARDS),
        (None, None) => builder,
    };
    if let Some(path) = &cli.component {
        builder = builder.component_file(path);
    }
    Ok(builder.build().await?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[test]
    fn owner_flags_come_in_pairs() {
        let cli = Cli::try_parse_from(["sessions", "items", "s1", "--app-name", "a", "--user-id", "u"]).unwrap();
        match cli.command {
            Command::Items(items) => {
                assert_eq!((items.owner.app_name.as_deref(), items.owner.user_id.as_deref()), (Some("a"), Some("u")))
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
            Command::Serve(serve) => {
                assert_eq!(
                    (serve.cleanup_interval, serve.stats_interval),
                    (Duration::from_secs(60), Duration::from_secs(60))
                );
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
