//! `kv.execute` and `kv.execute-each` on one Redis server, over one
//! connection kept between calls: what the WIT `kv` comment asks of a host.
//! Split the packed keys on `\n`, put the prefix in front of each, and run
//! `EVALSHA <sha1 of kv_batch.lua> <n> <keys...> <prefix> <batch>`
//! (redis-rs's [`Script`] sends `SCRIPT LOAD` on `NOSCRIPT` and runs it
//! again); the reply goes back as it is.

use agent_sessions_kv::redact::redact_url;
use agent_sessions_kv::wire::BATCH_SEPARATOR;
use agent_sessions_kv::{ErrorKind, KV_BATCH_SCRIPT, KvError};
use redis::{Client, Connection, RedisError, Script};

use crate::config::Config;

/// The adapter's state: its configuration (or why it has none), the
/// script, and the connection once one is open.
pub struct RedisKv {
    /// `Err`: the environment or `REDIS_URL` is unusable; every call fails
    /// with this message (kind `other`).
    client: Result<Client, String>,
    redacted_url: String,
    prefix: String,
    timeout: std::time::Duration,
    script: Script,
    /// Kept across calls and requests of the instance; dropped after an
    /// I/O error or a timeout, so the next call connects afresh.
    connection: Option<Connection>,
}

impl RedisKv {
    /// An adapter for `config`; connects on the first call.
    pub fn new(config: &Config) -> Self {
        Self {
            client: open_client(&config.url),
            redacted_url: redact_url(&config.url),
            prefix: config.prefix.clone(),
            timeout: config.timeout,
            script: Script::new(KV_BATCH_SCRIPT),
            connection: None,
        }
    }

    /// An adapter whose every call fails with `message` (kind `other`): the
    /// environment could not be read.
    pub fn misconfigured(message: String) -> Self {
        let mut kv = Self::new(&Config::default());
        kv.client = Err(message);
        kv
    }

    /// Whether a connection is open (kept for the next call).
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    /// `kv.execute`: `keys` one per line, relative to the prefix; the
    /// script's reply, one JSON text.
    pub fn execute(&mut self, keys: &str, batch: &str) -> Result<String, KvError> {
        let keys: Vec<String> = if keys.is_empty() {
            Vec::new()
        } else {
            keys.split('\n').map(|key| format!("{}{key}", self.prefix)).collect()
        };
        self.connect()?;
        let connection = self.connection.as_mut().expect("connect() leaves a connection");
        let mut invocation = self.script.prepare_invoke();
        invocation.key(keys).arg(&self.prefix).arg(batch);
        match invocation.invoke::<Vec<u8>>(connection) {
            // Values written by other tools may hold invalid UTF-8; keep the
            // reply readable (the guest reports a corrupt field if it matters).
            Ok(reply) => {
                Ok(String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
            Err(error) => Err(self.failed(&error)),
        }
    }

    /// `kv.execute-each`: the batches one after another on the one server
    /// (a Cluster host would run them concurrently on their nodes), replies
    /// joined by U+001E. The first failure fails the call.
    pub fn execute_each(&mut self, keys: &str, batches: &str) -> Result<String, KvError> {
        let keys: Vec<&str> = keys.split(BATCH_SEPARATOR).collect();
        let batches: Vec<&str> = batches.split(BATCH_SEPARATOR).collect();
        if keys.len() != batches.len() {
            return Err(KvError::new(
                ErrorKind::InvalidBatch,
                format!("kv.execute-each got keys for {} batches and {} batches", keys.len(), batches.len()),
            ));
        }
        let mut replies = Vec::with_capacity(batches.len());
        for (keys, batch) in keys.into_iter().zip(batches) {
            replies.push(self.execute(keys, batch)?);
        }
        Ok(replies.join(&BATCH_SEPARATOR.to_string()))
    }

    /// Keeps the open connection, or opens one with the timeouts set.
    fn connect(&mut self) -> Result<(), KvError> {
        if self.connection.is_none() {
            let client = self.client.as_ref().map_err(|message| KvError::new(ErrorKind::Other, message.clone()))?;
            let connection = client
                .get_connection_with_timeout(self.timeout)
                .and_then(|connection| {
                    connection.set_read_timeout(Some(self.timeout))?;
                    connection.set_write_timeout(Some(self.timeout))?;
                    Ok(connection)
                })
                .map_err(|error| self.connect_failed(&error))?;
            self.connection = Some(connection);
        }
        Ok(())
    }

    /// Nothing was sent: whatever the socket did, storage is unavailable;
    /// a server that refuses us (AUTH, a Cluster) is `other`.
    fn connect_failed(&self, error: &RedisError) -> KvError {
        if error.is_io_error() || error.is_timeout() || error.is_connection_refusal() || error.is_connection_dropped() {
            KvError::new(
                ErrorKind::Unavailable,
                format!("cannot connect to Redis at {}: {}", self.redacted_url, describe(error)),
            )
        } else {
            KvError::new(
                ErrorKind::Other,
                format!("Redis at {} refused the connection: {}", self.redacted_url, describe(error)),
            )
        }
    }

    /// A call that failed on an open connection. After anything but an
    /// error reply the connection is dropped: a late reply would otherwise
    /// answer the next command.
    fn failed(&mut self, error: &RedisError) -> KvError {
        let reply_error = matches!(error.kind(), redis::ErrorKind::Server(_) | redis::ErrorKind::Extension);
        if !reply_error {
            self.connection = None;
        }
        let url = &self.redacted_url;
        if error.is_timeout() {
            KvError::new(ErrorKind::Timeout, format!("Redis did not answer in time at {url}: {}", describe(error)))
        } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
            KvError::new(ErrorKind::Unavailable, format!("Redis is unavailable at {url}: {}", describe(error)))
        } else if error.is_cluster_error() {
            KvError::new(
                ErrorKind::Other,
                format!(
                    "Redis at {url} is a Cluster node ({}); the kv-redis component talks to one Redis server, \
                     not a Cluster (use `sessions serve --api` for a Cluster)",
                    describe(error)
                ),
            )
        } else {
            KvError::new(ErrorKind::Other, format!("Redis refused the batch at {url}: {}", describe(error)))
        }
    }
}

/// A client for `url`, or why it cannot be one: only `redis://` (TLS cannot
/// be done inside wasm here; a Cluster needs the native host).
fn open_client(url: &str) -> Result<Client, String> {
    let redacted = redact_url(url);
    if url.contains(',') {
        return Err(format!(
            "REDIS_URL {redacted} names several servers (a Redis Cluster's seeds); the kv-redis component talks \
             to one Redis server, not a Cluster (use `sessions serve --api` for a Cluster)"
        ));
    }
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("redis") => {}
        Some("rediss") => {
            return Err(format!(
                "REDIS_URL {redacted} asks for TLS (rediss://), which the kv-redis component cannot do inside \
                 wasm; use a redis:// URL (one server, no TLS), or `sessions serve --api` for TLS"
            ));
        }
        _ => {
            return Err(format!(
                "REDIS_URL {redacted} is not a redis:// URL (redis://[user:password@]host[:port][/db])"
            ));
        }
    }
    Client::open(url).map_err(|error| format!("REDIS_URL {redacted} is not usable: {}", describe(&error)))
}

fn describe(error: &RedisError) -> String {
    // redis-rs does not put URLs or passwords into its messages; strip any
    // `user:pass@` form anyway, in case a future version does.
    redact_url(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_plain_server_is_accepted() {
        let tls = open_client("rediss://u:secret@host:6380").unwrap_err();
        assert!(tls.contains("TLS") && tls.contains("rediss://u:***@host:6380"), "{tls}");
        let cluster = open_client("redis://a:7000,redis://b:7001").unwrap_err();
        assert!(cluster.contains("not a Cluster"), "{cluster}");
        assert!(open_client("unix:///tmp/redis.sock").unwrap_err().contains("not a redis:// URL"));
        assert!(open_client("redis://127.0.0.1:6379/0").is_ok());
    }

    #[test]
    fn a_misconfigured_adapter_fails_every_call_with_other() {
        let mut kv = RedisKv::misconfigured("environment variable SESSIONS_TTL: bad".into());
        let error = kv.execute("k", "[0]").unwrap_err();
        assert_eq!((error.kind, error.message.as_str()), (ErrorKind::Other, "environment variable SESSIONS_TTL: bad"));
        let tls =
            RedisKv::new(&Config { url: "rediss://host".into(), ..Config::default() }).execute("", "[0]").unwrap_err();
        assert_eq!(tls.kind, ErrorKind::Other);
    }
}
