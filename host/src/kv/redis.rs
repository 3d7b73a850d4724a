//! The Redis backend: every batch is one `EVALSHA` of `redis/kv_batch.lua`,
//! over a connection manager that reconnects by itself after Redis restarts,
//! with bounded connect and response timeouts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_sessions_guest::kv::{Batch, BatchOutcome, Condition, ErrorKind, KvError, Op, Reply, ScanPage};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

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
    script: Script,
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
        let connection = ConnectionManager::new_with_config(client, config).await.map_err(|e| {
            ConnectError::Unreachable(format!("cannot connect to Redis at {redacted_url}: {}", describe(&e)))
        })?;
        Ok(Self { connection, script: Script::new(KV_BATCH_SCRIPT), redacted_url })
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

    pub async fn execute(&self, batch: &Batch) -> Result<BatchOutcome, KvError> {
        let encoded = encode(batch);
        let mut invocation = self.script.prepare_invoke();
        for key in &encoded.keys {
            invocation.key(key.as_str());
        }
        for arg in &encoded.args {
            invocation.arg(arg.as_str());
        }
        let mut connection = self.connection.clone();
        let value: Value = invocation.invoke_async(&mut connection).await.map_err(|e| self.error(&e))?;
        decode(batch, value)
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

struct Encoded {
    keys: Vec<String>,
    args: Vec<String>,
}

/// Builds KEYS (each key once) and ARGV in the script's calling convention.
struct Encoder<'a> {
    key_numbers: HashMap<&'a str, usize>,
    keys: Vec<String>,
    args: Vec<String>,
}

impl<'a> Encoder<'a> {
    fn entry(&mut self, code: &str, key: &'a str, rest: Vec<String>) {
        let next = self.keys.len() + 1;
        let number = *self.key_numbers.entry(key).or_insert(next);
        if number == next {
            self.keys.push(key.to_owned());
        }
        self.args.push(code.to_owned());
        self.args.push(number.to_string());
        self.args.push(rest.len().to_string());
        self.args.extend(rest);
    }
}

fn encode(batch: &Batch) -> Encoded {
    let mut encoder = Encoder {
        key_numbers: HashMap::new(),
        keys: Vec::new(),
        args: Vec::with_capacity(2 + (batch.conditions.len() + batch.ops.len()) * 5),
    };
    encoder.args.push(batch.conditions.len().to_string());
    for condition in &batch.conditions {
        match condition {
            Condition::KeyExists(key) => encoder.entry("exists", key, vec![]),
            Condition::KeyMissing(key) => encoder.entry("missing", key, vec![]),
            Condition::FieldEquals { key, field, value } => {
                encoder.entry("field_eq", key, vec![field.clone(), value.clone()])
            }
            Condition::FieldMissing { key, field } => encoder.entry("field_missing", key, vec![field.clone()]),
        }
    }
    encoder.args.push(batch.ops.len().to_string());
    for op in &batch.ops {
        let (code, rest): (&str, Vec<String>) = match op {
            Op::HashGetAll(_) => ("hgetall", vec![]),
            Op::HashGet { field, .. } => ("hget", vec![field.clone()]),
            Op::HashSet { fields, .. } => ("hset", fields.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect()),
            Op::HashIncrement { field, delta, .. } => ("hincrby", vec![field.clone(), delta.to_string()]),
            Op::StringSet { value, ttl_ms, .. } => {
                let mut rest = vec![value.clone()];
                rest.extend(ttl_ms.map(|ms| ms.to_string()));
                ("set", rest)
            }
            Op::Exists(_) => ("exists", vec![]),
            Op::TtlMs(_) => ("pttl", vec![]),
            Op::Expire { ttl_ms, .. } => ("pexpire", vec![ttl_ms.to_string()]),
            Op::Delete(_) => ("del", vec![]),
            Op::SetAdd { members, .. } => ("sadd", members.clone()),
            Op::SetRemove { members, .. } => ("srem", members.clone()),
            Op::SetSize(_) => ("scard", vec![]),
            Op::SetScan(scan) => ("sscan", vec![scan.cursor.clone(), scan.count.to_string()]),
            Op::SortedAdd { members, .. } => {
                ("zadd", members.iter().flat_map(|(score, m)| [score.to_string(), m.clone()]).collect())
            }
            Op::SortedRemove { members, .. } => ("zrem", members.clone()),
            Op::SortedSize(_) => ("zcard", vec![]),
            Op::SortedScore { member, .. } => ("zscore", vec![member.clone()]),
            // Redis ranks are signed 64-bit; no set is that large anyway.
            Op::SortedRangeDesc { start, stop, .. } => {
                let clamp = |rank: u64| rank.min(i64::MAX as u64).to_string();
                ("zrevrange", vec![clamp(*start), clamp(*stop)])
            }
            Op::SortedScan(scan) => ("zscan", vec![scan.cursor.clone(), scan.count.to_string()]),
        };
        encoder.entry(code, op.key(), rest);
    }
    Encoded { keys: encoder.keys, args: encoder.args }
}

/// Reads the script's reply back into typed replies, by each op's kind.
fn decode(batch: &Batch, value: Value) -> Result<BatchOutcome, KvError> {
    let mut items = match value {
        Value::Array(items) if !items.is_empty() => items.into_iter(),
        other => return Err(malformed(format!("expected an array, got {other:?}"))),
    };
    let status = integer(items.next().unwrap_or(Value::Nil))?;
    match status {
        1 => {
            let mut replies = Vec::with_capacity(batch.ops.len());
            for op in &batch.ops {
                let value = items.next().ok_or_else(|| malformed("fewer replies than ops".into()))?;
                replies.push(decode_reply(op, value)?);
            }
            Ok(BatchOutcome::Applied(replies))
        }
        0 => {
            let index = integer(items.next().unwrap_or(Value::Nil))?;
            let actual = optional_text(items.next().unwrap_or(Value::Nil))?;
            Ok(BatchOutcome::ConditionFailed {
                index: u32::try_from(index).map_err(|_| malformed(format!("condition index {index}")))?,
                actual,
            })
        }
        2 => {
            let index = integer(items.next().unwrap_or(Value::Nil))?;
            let found = optional_text(items.next().unwrap_or(Value::Nil))?.unwrap_or_default();
            let op = usize::try_from(index)
                .ok()
                .and_then(|i| batch.ops.get(i))
                .ok_or_else(|| malformed(format!("op index {index}")))?;
            let wanted = op.key_type().map(|t| t.redis_name()).unwrap_or("any");
            Err(KvError::wrong_type(op.key(), format!("the key holds a {found}, not a {wanted}")))
        }
        3 => {
            let index = integer(items.next().unwrap_or(Value::Nil))?;
            let found = optional_text(items.next().unwrap_or(Value::Nil))?.unwrap_or_default();
            match usize::try_from(index).ok().and_then(|i| batch.ops.get(i)) {
                Some(Op::HashIncrement { key, field, .. }) => {
                    Err(KvError::wrong_type(key, format!("field {field} holds {found:?}, not an integer")))
                }
                _ => Err(malformed(format!("op index {index}"))),
            }
        }
        other => Err(malformed(format!("unknown status {other}"))),
    }
}

fn decode_reply(op: &Op, value: Value) -> Result<Reply, KvError> {
    Ok(match op {
        Op::HashGetAll(_) => {
            let flat = texts(value)?;
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut iter = flat.into_iter();
            while let (Some(field), Some(value)) = (iter.next(), iter.next()) {
                fields.push((field, value));
            }
            Reply::Fields(fields)
        }
        Op::HashGet { .. } | Op::SortedScore { .. } => Reply::Text(optional_text(value)?),
        Op::SortedRangeDesc { .. } => Reply::Texts(texts(value)?),
        Op::SetScan(_) | Op::SortedScan(_) => {
            let mut parts = match value {
                Value::Array(parts) if parts.len() == 2 => parts.into_iter(),
                other => return Err(malformed(format!("scan reply {other:?}"))),
            };
            let cursor = optional_text(parts.next().unwrap_or(Value::Nil))?.unwrap_or_else(|| "0".into());
            let members = texts(parts.next().unwrap_or(Value::Nil))?;
            Reply::Scan(ScanPage { cursor, members })
        }
        _ => Reply::Integer(integer(value)?),
    })
}

fn integer(value: Value) -> Result<i64, KvError> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(malformed(format!("expected an integer, got {other:?}"))),
    }
}

fn optional_text(value: Value) -> Result<Option<String>, KvError> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(utf8(bytes))),
        Value::SimpleString(text) => Ok(Some(text)),
        Value::Okay => Ok(Some("OK".into())),
        other => Err(malformed(format!("expected text, got {other:?}"))),
    }
}

fn texts(value: Value) -> Result<Vec<String>, KvError> {
    match value {
        Value::Array(items) => {
            items.into_iter().map(|item| optional_text(item).map(Option::unwrap_or_default)).collect()
        }
        Value::Nil => Ok(Vec::new()),
        other => Err(malformed(format!("expected an array, got {other:?}"))),
    }
}

/// Values written by other tools may hold invalid UTF-8; keep them readable
/// (the guest then reports the field as corrupt if it matters).
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn malformed(detail: String) -> KvError {
    KvError::new(ErrorKind::Other, format!("unexpected reply from the kv batch script: {detail}"))
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

    #[test]
    fn keys_are_numbered_once() {
        let batch = Batch::new()
            .condition(Condition::KeyExists("a".into()))
            .op(Op::HashGetAll("b".into()))
            .op(Op::TtlMs("a".into()));
        let encoded = encode(&batch);
        assert_eq!(encoded.keys, vec!["a", "b"]);
        assert_eq!(encoded.args, vec!["1", "exists", "1", "0", "2", "hgetall", "2", "0", "pttl", "1", "0"]);
    }
}
