//! The Redis backend: every batch is one `EVALSHA` of `redis/kv_batch.lua`
//! with the packed batch passed through as it is, over a connection manager
//! that reconnects by itself after Redis restarts, with bounded connect and
//! response timeouts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_sessions_guest::kv::{ErrorKind, KvError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

/// The batch script, shared with every other host.
pub const KV_BATCH_SCRIPT: &str = include_str!("../../../redis/kv_batch.lua");

/// Timeouts, reconnection and TLS of the Redis connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Longest wait for a TCP connection (and handshake) to Redis.
    pub connect_timeout: Duration,
    /// Longest wait for the reply to one command.
    pub response_timeout: Duration,
    /// Reconnection attempts per failed command before giving up on it.
    pub reconnect_retries: usize,
    /// For `rediss://` URLs: a PEM file of the certificate authority to trust
    /// instead of the system's trust store (self-signed or private CAs).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            reconnect_retries: 2,
            tls_ca_file: None,
        }
    }
}

/// Why [`RedisBackend::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The URL or TLS settings are unusable; retrying will not help.
    Invalid(String),
    /// Redis did not answer, or refused the connection or the credentials.
    Unreachable(String),
}

#[derive(Clone)]
pub struct RedisBackend {
    connection: ConnectionManager,
    /// What made `connection`, to open another one like it.
    recipe: std::sync::Arc<(redis::Client, ConnectionManagerConfig)>,
    /// SHA1 of [`KV_BATCH_SCRIPT`], for EVALSHA.
    script_sha: String,
    /// The URL with any password replaced by `***`, for messages.
    redacted_url: String,
}

impl RedisBackend {
    /// Parses the URL, connects, and checks the server answers. A bad URL
    /// or CA file is [`ConnectError::Invalid`]; a server that cannot be
    /// reached (or refuses the credentials) is [`ConnectError::Unreachable`].
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        let redacted_url = redact_url(url);
        let invalid =
            |detail: String| ConnectError::Invalid(format!("{redacted_url} is not a usable Redis URL ({detail})"));
        if url.starts_with("rediss://") {
            // Exactly one rustls crypto provider is compiled in; make it the
            // process default (an embedder may have installed one already).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = match &options.tls_ca_file {
            None => redis::Client::open(url).map_err(|e| invalid(describe(&e)))?,
            Some(path) => {
                if !url.starts_with("rediss://") {
                    return Err(ConnectError::Invalid(format!(
                        "a TLS CA file was given but {redacted_url} is not a rediss:// URL"
                    )));
                }
                let root_cert = std::fs::read(path).map_err(|e| {
                    ConnectError::Invalid(format!("cannot read the TLS CA file {}: {e}", path.display()))
                })?;
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
                redis::Client::build_with_tls(url, certificates).map_err(|e| invalid(describe(&e)))?
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(options.reconnect_retries)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client.clone(), config.clone()).await.map_err(|e| {
            ConnectError::Unreachable(format!("cannot connect to Redis at {redacted_url}: {}", describe(&e)))
        })?;
        Ok(Self {
            connection,
            recipe: std::sync::Arc::new((client, config)),
            script_sha: Script::new(KV_BATCH_SCRIPT).get_hash().to_owned(),
            redacted_url,
        })
    }

    /// A backend like this one on a connection of its own, driven by the
    /// async runtime this is called on. Fails when Redis cannot be reached.
    pub async fn another_connection(&self) -> Result<Self, ConnectError> {
        let (client, config) = &*self.recipe;
        let connection = ConnectionManager::new_with_config(client.clone(), config.clone()).await.map_err(|e| {
            ConnectError::Unreachable(format!("cannot connect to Redis at {}: {}", self.redacted_url, describe(&e)))
        })?;
        Ok(Self { connection, ..self.clone() })
    }

    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// Round-trip time of one `PING`.
    pub async fn ping(&self) -> Result<Duration, KvError> {
        let started = Instant::now();
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(|e| self.error(&e))?;
        Ok(started.elapsed())
    }

    /// `EVALSHA kv_batch <n> <keys...> <prefix> <batch>`; the script's reply,
    /// one JSON text, as it is.
    pub async fn execute(&self, keys: &[String], prefix: &str, batch: &str) -> Result<String, KvError> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.script_sha).arg(keys.len()).arg(keys).arg(prefix).arg(batch);
        let mut connection = self.connection.clone();
        let reply: Vec<u8> = match cmd.query_async(&mut connection).await {
            // A new or restarted server has not seen the script yet: load
            // it and send the batch again (it was not run).
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                let _: String = redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(KV_BATCH_SCRIPT)
                    .query_async(&mut connection)
                    .await
                    .map_err(|e| self.error(&e))?;
                cmd.query_async(&mut connection).await.map_err(|e| self.error(&e))?
            }
            other => other.map_err(|e| self.error(&e))?,
        };
        // Values written by other tools may hold invalid UTF-8; keep them
        // readable (the guest reports the field as corrupt if it matters).
        Ok(String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn error(&self, error: &RedisError) -> KvError {
        let kind = if error.is_timeout() {
            ErrorKind::Timeout
        } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Other
        };
        let what = match kind {
            ErrorKind::Timeout => "Redis did not answer in time",
            ErrorKind::Unavailable => "Redis is unavailable",
            _ => "Redis refused the batch",
        };
        KvError::new(kind, format!("{what} at {}: {}", self.redacted_url, describe(error)))
    }
}

/// A Redis error's text without anything that could carry credentials.
fn describe(error: &RedisError) -> String {
    // redis-rs does not put URLs or passwords into its messages; strip any
    // `user:pass@` form anyway, in case a future version does.
    redact_url(&error.to_string())
}

/// Replaces the password of every `scheme://user:password@` in `text` by `***`.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', ' ', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    // `redis://password@host` is read as a password by some clients.
                    None if !userinfo.is_empty() => out.push_str("***"),
                    None => {}
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("redis://user:secret@host:6379/2"), "redis://user:***@host:6379/2");
        assert_eq!(redact_url("rediss://:secret@host"), "rediss://:***@host");
        assert_eq!(redact_url("redis://secret@host"), "redis://***@host");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact_url("failed redis://a:b@h1/0 and redis://c:d@h2"),
            "failed redis://a:***@h1/0 and redis://c:***@h2"
        );
    }
}
