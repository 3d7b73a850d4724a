//! One checker for the whole keyspace of a prefix: what must hold in Redis
//! whatever operations ran, raced or failed.
//!
//! - every session key (`session:{id}:data`, `session:{id}:meta`,
//!   `session_expiry:{id}`) has a TTL, and the hashes outlive the expiry key;
//! - a live session (expiry key present) has both hashes, its
//!   `active_sessions` member and its index entry;
//! - no key of the prefix is anything else, and `active_sessions` and the
//!   index are of their types;
//! - members of `active_sessions` and the index, and hashes, whose expiry key
//!   is gone are *leftovers*: allowed, but the next cleanup must remove them
//!   ([`check_after_cleanup`]).
//!
//! Each session is read in one MULTI/EXEC, so expiry cannot change a
//! session's state halfway through reading it.

use std::collections::BTreeSet;

use agent_sessions_host::SessionStore;
use redis::Commands;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Broken invariants, one line each.
    pub violations: Vec<String>,
    /// Sessions whose expiry key is gone but something of them remains.
    pub leftovers: BTreeSet<String>,
    /// Live sessions seen.
    pub live: usize,
}

/// Scans every key under `prefix` and checks each session found.
pub fn check(connection: &mut redis::Connection, prefix: &str) -> Report {
    let mut report = Report::default();
    let mut ids = BTreeSet::new();
    let keys: Vec<String> =
        connection.scan_match(format!("{prefix}*")).expect("SCAN").collect::<Result<_, _>>().expect("SCAN page");
    let active = format!("{prefix}active_sessions");
    let index = format!("{prefix}session_index");
    for key in &keys {
        let rest = &key[prefix.len()..];
        if *key == active || *key == index {
            continue;
        } else if let Some(id) = rest.strip_prefix("session_expiry:") {
            ids.insert(id.to_owned());
        } else if let Some(id) =
            rest.strip_prefix("session:").and_then(|r| r.strip_suffix(":data").or_else(|| r.strip_suffix(":meta")))
        {
            ids.insert(id.to_owned());
        } else {
            report.violations.push(format!("unexpected key {key}"));
        }
    }
    let members: Vec<String> = connection.smembers(&active).unwrap_or_default();
    let indexed: Vec<String> = connection.zrange(&index, 0, -1).unwrap_or_default();
    ids.extend(members.iter().cloned());
    ids.extend(indexed.iter().cloned());
    for (key, wanted) in [(&active, "set"), (&index, "zset")] {
        let found: String = redis::cmd("TYPE").arg(key).query(connection).expect("TYPE");
        if found != wanted && found != "none" {
            report.violations.push(format!("{key} is a {found}, not a {wanted}"));
        }
    }

    for id in ids {
        let data = format!("{prefix}session:{id}:data");
        let meta = format!("{prefix}session:{id}:meta");
        let expiry = format!("{prefix}session_expiry:{id}");
        let (data_ttl, meta_ttl, expiry_ttl, in_set, score): (i64, i64, i64, bool, Option<f64>) = redis::pipe()
            .atomic()
            .pttl(&data)
            .pttl(&meta)
            .pttl(&expiry)
            .sismember(&active, &id)
            .zscore(&index, &id)
            .query(connection)
            .expect("read one session");
        for (key, ttl) in [(&data, data_ttl), (&meta, meta_ttl), (&expiry, expiry_ttl)] {
            if ttl == -1 {
                report.violations.push(format!("{key} has no TTL"));
            }
        }
        if expiry_ttl == -2 {
            if data_ttl != -2 || meta_ttl != -2 || in_set || score.is_some() {
                report.leftovers.insert(id);
            }
            continue;
        }
        report.live += 1;
        if data_ttl == -2 || meta_ttl == -2 {
            report
                .violations
                .push(format!("live session {id} lacks a hash (data ttl {data_ttl}, meta ttl {meta_ttl})"));
        }
        if data_ttl >= 0 && data_ttl < expiry_ttl || meta_ttl >= 0 && meta_ttl < expiry_ttl {
            report.violations.push(format!(
                "session {id}: a hash dies before the session (expiry {expiry_ttl} ms, data {data_ttl} ms, meta {meta_ttl} ms)"
            ));
        }
        if !in_set {
            report.violations.push(format!("live session {id} is not in active_sessions"));
        }
        if score.is_none() {
            report.violations.push(format!("live session {id} is not in the index"));
        }
    }
    report
}

/// Checks, runs one cleanup, checks again: leftovers of the first check must
/// be gone after the cleanup. Returns every violation.
pub async fn check_after_cleanup(store: &SessionStore, connection: &mut redis::Connection) -> Vec<String> {
    let before = check(connection, store.prefix());
    store.cleanup_expired().await.expect("cleanup");
    let after = check(connection, store.prefix());
    let mut violations = before.violations;
    violations.extend(after.violations);
    for id in before.leftovers.intersection(&after.leftovers) {
        violations.push(format!("leftovers of expired session {id} survived a cleanup"));
    }
    violations.sort();
    violations.dedup();
    violations
}
