//! The design document's key names over a Redis Cluster holding the
//! sharded layout, for the conformance runner: a command a scenario writes
//! for `session:<id>:data` (`:meta`, `:items`, `:state`),
//! `session_expiry:<id>`, `active_sessions`, `session_index`,
//! `owner_index:<app>:<user>` or `app_index:<app>` runs on the sharded keys
//! it stands for (a set or index command on every shard's, or on the
//! member's shard), `app_state:<app>` and `user_state:<app>:<user>` on
//! `app_state:{app:<app>}` and `user_state:{user:<app>:<user>}`, and key
//! names in replies and results lose their tags. So one scenario file
//! checks both layouts.

use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::{self, Layout, SessionKeyKind};
use redis::Value;

use crate::redis_cluster::RedisCluster;

pub struct ShardedView {
    layout: Layout,
    /// Routes each command by its first key.
    routed: redis::cluster::ClusterConnection,
    primaries: Vec<redis::Connection>,
}

/// A key the sharded layout has once per shard.
enum Group {
    Active,
    Index,
    /// `owner_index:<rest>`: `owner_index:{s<k>}:<rest>` in shard k.
    UserIndex(String),
    /// `app_index:<rest>`: `app_index:{s<k>}:<rest>` in shard k.
    AppIndex(String),
}

impl ShardedView {
    pub fn new(cluster: &RedisCluster, layout: Layout) -> Self {
        let routed = redis::cluster::ClusterClient::new(cluster.seed_urls())
            .and_then(|client| client.get_connection())
            .expect("a cluster connection");
        let primaries = cluster.primaries().iter().map(|node| cluster.connection(node.port)).collect();
        ShardedView { layout, routed, primaries }
    }

    /// FLUSHALL on every primary.
    pub fn flush(&mut self) -> redis::RedisResult<()> {
        for connection in &mut self.primaries {
            redis::cmd("FLUSHALL").exec(connection)?;
        }
        Ok(())
    }

    /// Runs `parts` (a command in the document's key names) under `prefix`.
    pub fn run(&mut self, parts: &[&str], prefix: &str) -> redis::RedisResult<Value> {
        let name = parts[0].to_ascii_uppercase();
        let Some(key) = parts.get(1) else { return redis::cmd(parts[0]).query(&mut self.routed) };
        if name == "KEYS" {
            return self.keys(key, prefix);
        }
        if self.session_key(key, prefix).is_some() {
            // Every session key among the arguments (EXISTS and DEL take
            // several), each renamed.
            let mut cmd = redis::cmd(parts[0]);
            for arg in &parts[1..] {
                match self.session_key(arg, prefix) {
                    Some(sharded) => cmd.arg(sharded),
                    None => cmd.arg(*arg),
                };
            }
            return cmd.query(&mut self.routed);
        }
        if let Some(sharded) = shared_state_key(key, prefix) {
            return redis::cmd(parts[0]).arg(sharded).arg(&parts[2..]).query(&mut self.routed);
        }
        let group = match key.strip_prefix(prefix) {
            Some(keys::ACTIVE_SESSIONS) => Group::Active,
            Some(keys::SESSION_INDEX) => Group::Index,
            Some(name) => match name.split_once(':') {
                Some((keys::OWNER_INDEX, rest)) => Group::UserIndex(rest.to_owned()),
                Some((keys::APP_INDEX, rest)) => Group::AppIndex(rest.to_owned()),
                _ => return redis::cmd(parts[0]).arg(&parts[1..]).query(&mut self.routed),
            },
            None => return redis::cmd(parts[0]).arg(&parts[1..]).query(&mut self.routed),
        };
        let group_key = |layout: &Layout, group_index: usize| {
            let keys = &layout.groups()[group_index];
            let tag = agent_sessions_guest::shard::tag(group_index as u32);
            match &group {
                Group::Active => format!("{prefix}{}", keys.active),
                Group::Index => format!("{prefix}{}", keys.index),
                Group::UserIndex(rest) => format!("{prefix}{}:{tag}:{rest}", keys::OWNER_INDEX),
                Group::AppIndex(rest) => format!("{prefix}{}:{tag}:{rest}", keys::APP_INDEX),
            }
        };
        let args = &parts[2..];
        match name.as_str() {
            // Members go to their own shard's set or index.
            "SADD" | "SREM" | "SISMEMBER" | "ZADD" | "ZREM" | "ZSCORE" => {
                let step = if name == "ZADD" { 2 } else { 1 };
                let mut total = 0;
                let mut last = Value::Nil;
                for chunk in args.chunks(step) {
                    let member = chunk[step - 1];
                    let mut cmd = redis::cmd(parts[0]);
                    cmd.arg(group_key(&self.layout, self.group_of(member))).arg(chunk);
                    last = cmd.query(&mut self.routed)?;
                    if let Value::Int(n) = last {
                        total += n;
                    }
                }
                Ok(if matches!(last, Value::Int(_)) { Value::Int(total) } else { last })
            }
            "SMEMBERS" | "SCARD" | "TTL" | "TYPE" | "ZCARD" | "ZRANGE" | "EXISTS" => {
                let mut members = Vec::new();
                let mut total = 0;
                let mut found: Option<Value> = None;
                let mut missing_reply: Option<Value> = None;
                for group_index in 0..self.layout.groups().len() {
                    let key = group_key(&self.layout, group_index);
                    match name.as_str() {
                        "SMEMBERS" => {
                            let got: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query(&mut self.routed)?;
                            members.extend(got.into_iter().map(|m| (0.0, m)));
                        }
                        "ZRANGE" => {
                            let got: Vec<(String, f64)> = redis::cmd("ZRANGE")
                                .arg(&key)
                                .arg(0)
                                .arg(-1)
                                .arg("WITHSCORES")
                                .query(&mut self.routed)?;
                            members.extend(got.into_iter().map(|(m, s)| (s, m)));
                        }
                        "SCARD" | "ZCARD" | "EXISTS" => {
                            total += redis::cmd(&name).arg(&key).query::<i64>(&mut self.routed)?
                        }
                        _ => {
                            let value: Value = redis::cmd(&name).arg(&key).query(&mut self.routed)?;
                            let missing = matches!(&value, Value::Int(-2))
                                || matches!(&value, Value::SimpleString(s) if s == "none");
                            if !missing && found.is_none() {
                                found = Some(value);
                            } else if missing {
                                missing_reply = Some(value);
                            }
                        }
                    }
                }
                Ok(match name.as_str() {
                    "SMEMBERS" => Value::Array(members.into_iter().map(|(_, m)| Value::BulkString(m.into())).collect()),
                    "ZRANGE" => zrange(members, args),
                    "SCARD" | "ZCARD" => Value::Int(total),
                    // The document's one key exists if any shard's does.
                    "EXISTS" => Value::Int(total.min(1)),
                    _ => found.or(missing_reply).unwrap_or(Value::Nil),
                })
            }
            other => panic!("the sharded view does not translate {other} on {key}"),
        }
    }

    fn group_of(&self, member: &str) -> usize {
        // A member that is no session id (a scenario's foreign junk) is
        // kept in the first shard.
        SessionId::parse(member).map(|id| self.layout.group_of(&id)).unwrap_or(0)
    }

    fn session_key(&self, key: &str, prefix: &str) -> Option<String> {
        let (id, kind) = keys::parse_session_key(key.strip_prefix(prefix)?)?;
        let keys = self.layout.session_keys(&id);
        Some(format!(
            "{prefix}{}",
            match kind {
                SessionKeyKind::Data => keys.data,
                SessionKeyKind::Meta => keys.meta,
                SessionKeyKind::Expiry => keys.expiry,
                SessionKeyKind::Items => keys.items,
                SessionKeyKind::State => keys.state,
            }
        ))
    }

    /// KEYS on every primary, in the document's names, the layout record
    /// left out.
    fn keys(&mut self, pattern: &str, prefix: &str) -> redis::RedisResult<Value> {
        let mut names = std::collections::BTreeSet::new();
        for connection in &mut self.primaries {
            let found: Vec<String> = redis::cmd("KEYS").arg(pattern).query(connection)?;
            names.extend(found.into_iter().map(|name| untag(&name)));
        }
        names.remove(&format!("{prefix}{}", keys::SESSION_LAYOUT));
        Ok(Value::Array(names.into_iter().map(|name| Value::BulkString(name.into())).collect()))
    }
}

/// The sharded name of `app_state:<app>` or `user_state:<app>:<user>`
/// (hashes in slots of their own), if `key` is one.
fn shared_state_key(key: &str, prefix: &str) -> Option<String> {
    let (kind, rest) = key.strip_prefix(prefix)?.split_once(':')?;
    match kind {
        keys::APP_STATE => Some(format!("{prefix}{kind}:{{app:{rest}}}")),
        keys::USER_STATE => Some(format!("{prefix}{kind}:{{user:{rest}}}")),
        _ => None,
    }
}

/// `ZRANGE start stop [WITHSCORES]` over merged (score, member) pairs.
fn zrange(mut members: Vec<(f64, String)>, args: &[&str]) -> Value {
    members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let len = members.len() as i64;
    let index = |text: &str| {
        let n: i64 = text.parse().expect("a ZRANGE index");
        if n < 0 { (len + n).max(0) } else { n }
    };
    let (start, stop) = (index(args[0]), index(args[1]).min(len - 1));
    let with_scores = args.get(2).is_some_and(|arg| arg.eq_ignore_ascii_case("WITHSCORES"));
    let mut out = Vec::new();
    if start <= stop {
        for (score, member) in &members[start as usize..=stop as usize] {
            out.push(Value::BulkString(member.clone().into()));
            if with_scores {
                out.push(Value::BulkString(score.to_string().into()));
            }
        }
    }
    Value::Array(out)
}

/// `text` with every `{s<k>}` hash tag (and the colon joining it) removed,
/// and the `{app:...}`/`{user:...}` tags of the shared state hashes
/// opened: the document's key names.
pub fn untag(text: &str) -> String {
    let opened = open_state_tags(text);
    let text = opened.as_str();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{s") {
        let after = &rest[start + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !after[digits..].starts_with('}') {
            out.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        }
        let end = start + 2 + digits + 1;
        // `session:{s1}:<id>` and `active_sessions:{s1}`: drop one colon.
        if rest[end..].starts_with(':') {
            out.push_str(&rest[..start]);
            rest = &rest[end + 1..];
        } else {
            out.push_str(rest[..start].strip_suffix(':').unwrap_or(&rest[..start]));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// `app_state:{app:<app>}` as `app_state:<app>`, `user_state:{user:<app>:<user>}`
/// as `user_state:<app>:<user>` (the names hold no braces of their own).
fn open_state_tags(text: &str) -> String {
    let mut out = text.to_owned();
    for (tagged, plain) in [("app_state:{app:", "app_state:"), ("user_state:{user:", "user_state:")] {
        let mut from = 0;
        while let Some(at) = out[from..].find(tagged).map(|i| i + from) {
            let inner = at + tagged.len();
            let Some(close) = out[inner..].find('}').map(|i| i + inner) else { break };
            out.replace_range(close..close + 1, "");
            out.replace_range(at..inner, plain);
            from = at + plain.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::untag;

    #[test]
    fn tags_come_off() {
        assert_eq!(untag("session:{s17}:abc:data"), "session:abc:data");
        assert_eq!(untag("p:session_expiry:{s3}:abc"), "p:session_expiry:abc");
        assert_eq!(untag("active_sessions:{s63}"), "active_sessions");
        assert_eq!(untag("the key session_index:{s0} is"), "the key session_index is");
        assert_eq!(untag("{not a tag} {s} {sx}"), "{not a tag} {s} {sx}");
        assert_eq!(untag("session:{s5}:conv-1:items"), "session:conv-1:items");
        assert_eq!(untag("p:owner_index:{s12}:shop:ana"), "p:owner_index:shop:ana");
        assert_eq!(untag("app_index:{s0}:my%20app"), "app_index:my%20app");
        assert_eq!(untag("app_state:{app:shop}"), "app_state:shop");
        assert_eq!(
            untag("p:user_state:{user:shop:ana} and app_state:{app:x}"),
            "p:user_state:shop:ana and app_state:x"
        );
    }
}
