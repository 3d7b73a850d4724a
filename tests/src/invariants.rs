//! One checker for the whole keyspace of a prefix: what must hold in Redis
//! whatever operations ran, raced or failed.
//!
//! - every session key (`session:{id}:data`, `session:{id}:meta`,
//!   `session_expiry:{id}`, or their sharded names) has a TTL, and the hashes outlive the expiry key;
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

use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::{self, Layout};
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

/// Scans every key under `prefix` and checks each session found, on one
/// Redis in the document's layout.
pub fn check(connection: &mut redis::Connection, prefix: &str) -> Report {
    check_in(std::slice::from_mut(connection), |_| 0, prefix, Layout::Document)
}

/// [`check`] over several nodes (every primary of a cluster) in `layout`:
/// `owner(key)` is the index in `nodes` of the node that holds `key`.
pub fn check_in(
    nodes: &mut [redis::Connection],
    owner: impl Fn(&str) -> usize,
    prefix: &str,
    layout: Layout,
) -> Report {
    let mut report = Report::default();
    let mut ids = BTreeSet::new();
    let groups: Vec<(String, String)> = layout
        .groups()
        .into_iter()
        .map(|group| (format!("{prefix}{}", group.active), format!("{prefix}{}", group.index)))
        .collect();
    let own_keys: BTreeSet<String> = groups
        .iter()
        .flat_map(|(active, index)| [active.clone(), index.clone()])
        .chain([format!("{prefix}{}", keys::SESSION_LAYOUT), format!("{prefix}{}", keys::CLEANUP_LEASE)])
        .collect();
    for connection in nodes.iter_mut() {
        let found: Vec<String> =
            connection.scan_match(format!("{prefix}*")).expect("SCAN").collect::<Result<_, _>>().expect("SCAN page");
        for key in found {
            if own_keys.contains(&key) {
                continue;
            }
            let rest = &key[prefix.len()..];
            match keys::parse_session_key(rest) {
                // A session key of this layout (not of the other one).
                Some((id, _))
                    if {
                        let names = layout.session_keys(&id);
                        [names.data, names.meta, names.expiry].iter().any(|name| name == rest)
                    } =>
                {
                    ids.insert(id.to_string());
                }
                _ => report.violations.push(format!("unexpected key {key}")),
            }
        }
    }
    for (active, index) in &groups {
        let connection = &mut nodes[owner(active)];
        let members: Vec<String> = connection.smembers(active).unwrap_or_default();
        let indexed: Vec<String> = connection.zrange(index, 0, -1).unwrap_or_default();
        ids.extend(members);
        ids.extend(indexed);
        for (key, wanted) in [(active, "set"), (index, "zset")] {
            let found: String = redis::cmd("TYPE").arg(key).query(connection).expect("TYPE");
            if found != wanted && found != "none" {
                report.violations.push(format!("{key} is a {found}, not a {wanted}"));
            }
        }
    }

    for id in ids {
        let Ok(parsed) = SessionId::parse(&id) else {
            report.violations.push(format!("{id:?} is no session id"));
            continue;
        };
        let names = layout.session_keys(&parsed);
        let [data, meta, expiry, active, index] =
            [names.data, names.meta, names.expiry, names.active, names.index].map(|key| format!("{prefix}{key}"));
        let (data_ttl, meta_ttl, expiry_ttl, in_set, score): (i64, i64, i64, bool, Option<f64>) = redis::pipe()
            .atomic()
            .pttl(&data)
            .pttl(&meta)
            .pttl(&expiry)
            .sismember(&active, &id)
            .zscore(&index, &id)
            .query(&mut nodes[owner(&expiry)])
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
    check_after_cleanup_in(store, std::slice::from_mut(connection), |_| 0).await
}

/// [`check_after_cleanup`] over several nodes, as [`check_in`].
pub async fn check_after_cleanup_in(
    store: &SessionStore,
    nodes: &mut [redis::Connection],
    owner: impl Fn(&str) -> usize,
) -> Vec<String> {
    let layout = store.settings().layout();
    let before = check_in(nodes, &owner, store.prefix(), layout);
    store.cleanup_expired().await.expect("cleanup");
    let after = check_in(nodes, &owner, store.prefix(), layout);
    let mut violations = before.violations;
    violations.extend(after.violations);
    for id in before.leftovers.intersection(&after.leftovers) {
        violations.push(format!("leftovers of expired session {id} survived a cleanup"));
    }
    violations.sort();
    violations.dedup();
    violations
}
