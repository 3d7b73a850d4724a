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
        let connection = ConnectionManager::new_with_config(client, config).await.map_err(|e| {
            ConnectError::Unreachable(format!("cannot connect to Redis at {redacted_url}: {}", describe(&e)))
        })?;
        Ok(Self { connection, script_sha: Script::new(KV_BATCH_SCRIPT).get_hash().to_owned(), redacted_url })
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
        let cmd = encode(batch).evalsha(&self.script_sha);
        let mut connection = self.connection.clone();
        let value: Value = match cmd.query_async(&mut connection).await {
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

/// One ARGV entry, borrowed from the batch where it can be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arg<'a> {
    Text(&'a str),
    Count(usize),
    Integer(i64),
    Unsigned(u64),
    Score(f64),
}

impl Arg<'_> {
    fn write(self, cmd: &mut redis::Cmd) {
        match self {
            Arg::Text(text) => cmd.arg(text),
            Arg::Count(n) => cmd.arg(n),
            Arg::Integer(n) => cmd.arg(n),
            Arg::Unsigned(n) => cmd.arg(n),
            // Display, not redis-rs' float writer: the form Redis and the
            // memory backend's tests expect ("1750000000000", "0.5").
            Arg::Score(score) => cmd.arg(score.to_string()),
        };
    }

    #[cfg(test)]
    fn render(self) -> String {
        match self {
            Arg::Text(text) => text.to_owned(),
            Arg::Count(n) => n.to_string(),
            Arg::Integer(n) => n.to_string(),
            Arg::Unsigned(n) => n.to_string(),
            Arg::Score(score) => score.to_string(),
        }
    }
}

/// Builds KEYS (each key once) and ARGV in the script's calling convention.
struct Encoder<'a> {
    keys: Vec<&'a str>,
    /// Key numbers by key, once a batch names more keys than a scan suits.
    numbers: HashMap<&'a str, usize>,
    args: Vec<Arg<'a>>,
}

impl<'a> Encoder<'a> {
    const SCAN_LIMIT: usize = 16;

    fn key_number(&mut self, key: &'a str) -> usize {
        if self.keys.len() <= Self::SCAN_LIMIT {
            if let Some(position) = self.keys.iter().position(|k| *k == key) {
                return position + 1;
            }
        } else {
            if self.numbers.is_empty() {
                self.numbers.extend(self.keys.iter().enumerate().map(|(i, k)| (*k, i + 1)));
            }
            if let Some(number) = self.numbers.get(key) {
                return *number;
            }
            self.numbers.insert(key, self.keys.len() + 1);
        }
        self.keys.push(key);
        self.keys.len()
    }

    fn entry(&mut self, code: &'static str, key: &'a str, rest: &[Arg<'a>]) {
        let number = self.key_number(key);
        self.args.extend([Arg::Text(code), Arg::Count(number), Arg::Count(rest.len())]);
        self.args.extend_from_slice(rest);
    }

    fn entry_texts(&mut self, code: &'static str, key: &'a str, items: impl ExactSizeIterator<Item = &'a str>) {
        let number = self.key_number(key);
        self.args.extend([Arg::Text(code), Arg::Count(number), Arg::Count(items.len())]);
        self.args.extend(items.map(Arg::Text));
    }
}

fn encode(batch: &Batch) -> Encoder<'_> {
    let capacity = 2 + (batch.conditions.len() + batch.ops.len()) * 5;
    let mut e = Encoder { keys: Vec::new(), numbers: HashMap::new(), args: Vec::with_capacity(capacity) };
    e.args.push(Arg::Count(batch.conditions.len()));
    for condition in &batch.conditions {
        match condition {
            Condition::KeyExists(key) => e.entry("exists", key, &[]),
            Condition::KeyMissing(key) => e.entry("missing", key, &[]),
            Condition::FieldEquals { key, field, value } => {
                e.entry("field_eq", key, &[Arg::Text(field), Arg::Text(value)])
            }
            Condition::FieldMissing { key, field } => e.entry("field_missing", key, &[Arg::Text(field)]),
        }
    }
    e.args.push(Arg::Count(batch.ops.len()));
    for op in &batch.ops {
        let key = op.key();
        match op {
            Op::HashGetAll(_) => e.entry("hgetall", key, &[]),
            Op::HashGet { field, .. } => e.entry("hget", key, &[Arg::Text(field)]),
            Op::HashGetFields { fields, .. } => e.entry_texts("hmget", key, fields.iter().map(String::as_str)),
            Op::HashSet { fields, .. } => {
                let number = e.key_number(key);
                e.args.extend([Arg::Text("hset"), Arg::Count(number), Arg::Count(fields.len() * 2)]);
                for (field, value) in fields {
                    e.args.extend([Arg::Text(field), Arg::Text(value)]);
                }
            }
            Op::HashIncrement { field, delta, .. } => {
                e.entry("hincrby", key, &[Arg::Text(field), Arg::Integer(*delta)])
            }
            Op::StringSet { value, ttl_ms: Some(ms), .. } => {
                e.entry("set", key, &[Arg::Text(value), Arg::Unsigned(*ms)])
            }
            Op::StringSet { value, ttl_ms: None, .. } => e.entry("set", key, &[Arg::Text(value)]),
            Op::Exists(_) => e.entry("exists", key, &[]),
            Op::TtlMs(_) => e.entry("pttl", key, &[]),
            Op::Expire { ttl_ms, .. } => e.entry("pexpire", key, &[Arg::Unsigned(*ttl_ms)]),
            Op::Delete(_) => e.entry("del", key, &[]),
            Op::SetAdd { members, .. } => e.entry_texts("sadd", key, members.iter().map(String::as_str)),
            Op::SetRemove { members, .. } => e.entry_texts("srem", key, members.iter().map(String::as_str)),
            Op::SetSize(_) => e.entry("scard", key, &[]),
            Op::SetScan(scan) => {
                e.entry("sscan", key, &[Arg::Text(&scan.cursor), Arg::Unsigned(u64::from(scan.count))])
            }
            Op::SortedAdd { members, .. } => {
                let number = e.key_number(key);
                e.args.extend([Arg::Text("zadd"), Arg::Count(number), Arg::Count(members.len() * 2)]);
                for (score, member) in members {
                    e.args.extend([Arg::Score(*score), Arg::Text(member)]);
                }
            }
            Op::SortedRemove { members, .. } => e.entry_texts("zrem", key, members.iter().map(String::as_str)),
            Op::SortedSize(_) => e.entry("zcard", key, &[]),
            Op::SortedScore { member, .. } => e.entry("zscore", key, &[Arg::Text(member)]),
            // Redis ranks are signed 64-bit; no set is that large anyway.
            Op::SortedRangeDesc { start, stop, .. } => {
                let clamp = |rank: u64| Arg::Unsigned(rank.min(i64::MAX as u64));
                e.entry("zrevrange", key, &[clamp(*start), clamp(*stop)])
            }
            Op::SortedScan(scan) => {
                e.entry("zscan", key, &[Arg::Text(&scan.cursor), Arg::Unsigned(u64::from(scan.count))])
            }
            Op::SetContains { member, .. } => e.entry("sismember", key, &[Arg::Text(member)]),
            // A pattern is not a key: key number 0, the pattern an argument.
            Op::KeyScan(scan) => {
                e.args.extend([Arg::Text("scan"), Arg::Count(0), Arg::Count(3)]);
                e.args.extend([
                    Arg::Text(&scan.cursor),
                    Arg::Text(&scan.pattern),
                    Arg::Unsigned(u64::from(scan.count)),
                ]);
            }
        }
    }
    e
}

impl Encoder<'_> {
    /// `EVALSHA sha numkeys KEYS... ARGV...`, each argument copied once.
    fn evalsha(&self, sha: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha).arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(*key);
        }
        for arg in &self.args {
            arg.write(&mut cmd);
        }
        cmd
    }
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
        Op::HashGetFields { .. } => Reply::Values(match value {
            Value::Array(items) => items.into_iter().map(optional_text).collect::<Result<_, _>>()?,
            other => return Err(malformed(format!("expected an array, got {other:?}"))),
        }),
        Op::SortedRangeDesc { .. } => Reply::Texts(texts(value)?),
        Op::SetScan(_) | Op::SortedScan(_) | Op::KeyScan(_) => {
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
    fn large_batches_number_keys_consistently() {
        let keys: Vec<String> = (0..100).map(|n| format!("k{n}")).collect();
        let mut batch = Batch::new();
        for round in 0..3 {
            for key in &keys {
                batch = batch
                    .op(Op::Delete(key.clone()))
                    .op(Op::SetRemove { key: "shared".into(), members: vec![round.to_string()] });
            }
        }
        let encoded = encode(&batch);
        assert_eq!(encoded.keys.len(), 101);
        // Every op's key number points at its key. ARGV opens with the
        // condition count (0) and the op count.
        let mut position = 2;
        for op in &batch.ops {
            assert!(matches!(encoded.args[position], Arg::Text(_)), "an op code at {position}");
            let Arg::Count(number) = encoded.args[position + 1] else { panic!("no key number") };
            assert_eq!(encoded.keys[number - 1], op.key());
            let Arg::Count(argc) = encoded.args[position + 2] else { panic!("no arg count") };
            position += 3 + argc;
        }
    }

    #[test]
    fn keys_are_numbered_once() {
        let batch = Batch::new()
            .condition(Condition::KeyExists("a".into()))
            .op(Op::HashGetAll("b".into()))
            .op(Op::TtlMs("a".into()));
        let encoded = encode(&batch);
        assert_eq!(encoded.keys, vec!["a", "b"]);
        let args: Vec<String> = encoded.args.iter().map(|a| a.render()).collect();
        assert_eq!(args, vec!["1", "exists", "1", "0", "2", "hgetall", "2", "0", "pttl", "1", "0"]);
    }
}
