//! Smoke tests of the Redis Cluster harness against a real local cluster,
//! and of what the sharded key layout needs from Redis Cluster: the keys of
//! one session share a slot, a script over them runs, a script over keys of
//! two slots is refused, the default shards spread over the primaries, and
//! a killed primary's replica takes over. Each test starts its own cluster.

use std::collections::HashSet;
use std::time::Instant;

use agent_sessions_guest::id::SessionId;
use agent_sessions_guest::keys::Layout;
use agent_sessions_guest::shard::{DEFAULT_SHARDS, shard_of, tag};
use agent_sessions_tests::redis_cluster::{NodeInfo, RedisCluster};

const SET_BOTH: &str = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return 1";

fn start(test: &str) -> RedisCluster {
    let started = Instant::now();
    let cluster = RedisCluster::start();
    println!("{test}: cluster on ports {:?} healthy after {:.2?}", cluster.ports(), started.elapsed());
    cluster
}

/// Asserts that `primaries` serve every slot exactly once.
fn assert_cover_every_slot(primaries: &[NodeInfo]) {
    let mut ranges: Vec<(u16, u16)> =
        primaries.iter().flat_map(|node| node.slots.iter().map(|range| (*range.start(), *range.end()))).collect();
    ranges.sort_unstable();
    let mut next = 0_u32;
    for (start, end) in ranges {
        assert_eq!(u32::from(start), next, "slots not served exactly once: {primaries:#?}");
        next = u32::from(end) + 1;
    }
    assert_eq!(next, 16_384, "slots from {next} on are not served: {primaries:#?}");
}

fn eval_set_both(connection: &mut redis::Connection, first: &str, second: &str) -> redis::RedisResult<i64> {
    redis::cmd("EVAL").arg(SET_BOTH).arg(2).arg(first).arg(second).arg("v").query(connection)
}

#[test]
fn a_cluster_forms_and_serves_hash_tagged_scripts() {
    let cluster = start("a_cluster_forms_and_serves_hash_tagged_scripts");
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "{primaries:#?}");
    assert_cover_every_slot(&primaries);
    let replicas = cluster.replicas();
    assert_eq!(replicas.len(), 3, "{replicas:#?}");
    let primary_ids: HashSet<&str> = primaries.iter().map(|node| node.id.as_str()).collect();
    let replicated: HashSet<&str> = replicas.iter().filter_map(|node| node.primary_id.as_deref()).collect();
    assert_eq!(replicated, primary_ids, "each primary has one replica: {replicas:#?}");
    assert_eq!(cluster.seed_urls().len(), 6);

    let (first, second) = ("a:{s7}:x", "b:{s7}:y");
    let slot = cluster.keyslot(first);
    assert_eq!(cluster.keyslot(second), slot, "keys sharing a hash tag share a slot");
    let owner = cluster.primary_for_slot(slot);
    let mut connection = cluster.connection(owner.port);
    assert_eq!(eval_set_both(&mut connection, first, second).expect("a script over one hash tag"), 1);
    let values: Vec<String> = redis::cmd("MGET").arg(first).arg(second).query(&mut connection).expect("MGET");
    assert_eq!(values, ["v", "v"]);

    let (first, second) = ("a:x", "b:y");
    let slot = cluster.keyslot(first);
    assert_ne!(cluster.keyslot(second), slot, "pick keys of two slots");
    let mut connection = cluster.connection(cluster.primary_for_slot(slot).port);
    let error = eval_set_both(&mut connection, first, second).expect_err("a script over two slots is refused");
    // The redis crate displays the code as `CrossSlot`; `code()` is Redis's own.
    assert_eq!(error.code(), Some("CROSSSLOT"), "not a CROSSSLOT error: {error}");
}

#[test]
fn the_sharded_key_names_of_one_session_share_a_slot() {
    let cluster = start("the_sharded_key_names_of_one_session_share_a_slot");
    let ids = [
        "11111111-1111-4111-8111-111111111111",
        "2cfdc22c-e8c0-41c3-a306-f7f6c7c2bd7e",
        "2CFDC22C-E8C0-41C3-A306-F7F6C7C2BD7E",
        "00000000-0000-4000-8000-000000000000",
        "9b2f4c1e-3d5a-4e7b-8c9d-0a1b2c3d4e5f",
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    ];
    let mut shards = HashSet::new();
    for text in ids {
        let id = SessionId::parse(text).expect("a valid session id");
        let shard = shard_of(&id, DEFAULT_SHARDS);
        shards.insert(shard);
        let tag = tag(shard);
        // The names the guest builds for the sharded layout.
        let session = Layout::Sharded { shards: DEFAULT_SHARDS }.session_keys(&id);
        let keys = [session.data, session.meta, session.expiry, session.active, session.index];
        let slots: Vec<u16> = keys.iter().map(|key| cluster.keyslot(key)).collect();
        assert!(
            slots.iter().all(|&slot| slot == slots[0]),
            "keys of session {id} in shard {shard}: {keys:?} -> {slots:?}"
        );
        assert_eq!(slots[0], cluster.keyslot(&tag), "the slot is the tag's");
    }
    assert!(shards.len() >= 4, "the ids fall into several shards: {shards:?}");
}

#[test]
fn the_default_shards_spread_over_the_primaries() {
    let cluster = start("the_default_shards_spread_over_the_primaries");
    let primaries = cluster.primaries();
    let mut counts = vec![0_u32; primaries.len()];
    for shard in 0..DEFAULT_SHARDS {
        let slot = cluster.keyslot(&tag(shard));
        let owner = primaries.iter().position(|node| node.owns(slot)).expect("every slot has a primary");
        counts[owner] += 1;
    }
    println!("{DEFAULT_SHARDS} shard tags over {} primaries:", primaries.len());
    for (node, count) in primaries.iter().zip(&counts) {
        println!("  primary on port {} (slots {:?}): {count} shards", node.port, node.slots);
    }
    assert_eq!(counts.iter().sum::<u32>(), DEFAULT_SHARDS);
    assert_eq!(counts.len(), 3);
    assert!(counts.iter().all(|count| (12..=30).contains(count)), "uneven spread: {counts:?}");
}

#[test]
fn the_harness_survives_a_killed_primary() {
    let mut cluster = start("the_harness_survives_a_killed_primary");
    let victim = cluster.primaries().remove(0);
    let heir = cluster
        .replicas()
        .into_iter()
        .find(|node| node.primary_id.as_deref() == Some(victim.id.as_str()))
        .expect("the victim has a replica");
    // A write the replica has acknowledged survives the failover.
    let key = "survivor:{s1}";
    let slot = cluster.keyslot(key);
    let owner = cluster.primary_for_slot(slot);
    let mut connection = cluster.connection(owner.port);
    redis::cmd("SET").arg(key).arg("kept").exec(&mut connection).expect("SET");
    let acknowledged: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut connection).expect("WAIT");
    assert_eq!(acknowledged, 1, "the replica acknowledged the write");
    drop(connection);

    let killed = Instant::now();
    cluster.kill_node(victim.port);
    cluster.wait_until_healthy();
    println!("the_harness_survives_a_killed_primary: healthy again {:.2?} after the kill", killed.elapsed());

    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "{primaries:#?}");
    assert_cover_every_slot(&primaries);
    assert!(primaries.iter().all(|node| node.port != victim.port), "the killed node is no primary");
    let promoted = primaries.iter().find(|node| node.port == heir.port).expect("the victim's replica was promoted");
    assert_eq!(promoted.slots, victim.slots, "the replica serves the killed primary's slots");
    assert_eq!(cluster.replicas().len(), 2);
    let value: String = redis::cmd("GET")
        .arg(key)
        .query(&mut cluster.connection(cluster.primary_for_slot(slot).port))
        .expect("GET after the failover");
    assert_eq!(value, "kept");

    let dropping = Instant::now();
    drop(cluster);
    println!("the_harness_survives_a_killed_primary: dropped in {:.2?}", dropping.elapsed());
}
