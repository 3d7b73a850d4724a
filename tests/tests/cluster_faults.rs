//! Faults on a real local Redis Cluster while traffic runs: a replica
//! promoted by `CLUSTER FAILOVER` (whose script cache is empty), a primary
//! killed with SIGKILL (with `wait_replicas`: every acknowledged write is
//! there afterwards), and slots moved with `redis-cli --cluster reshard`.
//! Each prints what it saw: calls, errors, the longest call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_sessions_guest::shard::tag;
use agent_sessions_host::{Error, RedisOptions, SessionStore, SessionUpdate, WaitReplicas};
use agent_sessions_tests::deployment::Deployment;
use agent_sessions_tests::minimal;
use agent_sessions_tests::redis_cluster::RedisCluster;

const WRITERS: usize = 8;

/// One fault test at a time: each runs six servers and eight writers, and
/// a failover's timing should not depend on how busy the other tests keep
/// the machine's cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Default)]
struct Seen {
    calls: u64,
    /// Sessions whose create was acknowledged.
    acknowledged: Vec<String>,
    /// Writes applied on a primary that no replica confirmed.
    not_replicated: u64,
    /// Every other error, as text.
    errors: Vec<String>,
    longest: Duration,
}

/// WRITERS tasks, each creating, reading and updating sessions in a loop
/// until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    writers: Vec<tokio::task::JoinHandle<Seen>>,
}

impl Traffic {
    fn start(store: &SessionStore) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let writers = (0..WRITERS)
            .map(|_| {
                let (store, stop, calls) = (store.clone(), stop.clone(), calls.clone());
                tokio::spawn(async move {
                    let mut seen = Seen::default();
                    let mut last: Option<String> = None;
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let outcome = match &last {
                            None => store.create(minimal("fault")).await.map(|session| {
                                seen.acknowledged.push(session.id.clone());
                                last = Some(session.id);
                            }),
                            Some(id) => {
                                let rename = SessionUpdate { name: Some("touched".into()), ..Default::default() };
                                let updated = store.update(id, rename).await.map(drop);
                                match store.get(id).await {
                                    Ok(_) => {}
                                    Err(error) => seen.errors.push(format!("get {id}: {error}")),
                                }
                                last = None;
                                updated
                            }
                        };
                        seen.longest = seen.longest.max(started.elapsed());
                        seen.calls += 1;
                        calls.fetch_add(1, Ordering::Relaxed);
                        match outcome {
                            Ok(()) => {}
                            Err(Error::NotReplicated(_)) => seen.not_replicated += 1,
                            Err(error) => seen.errors.push(error.to_string()),
                        }
                    }
                    seen
                })
            })
            .collect();
        Traffic { stop, calls, writers }
    }

    /// Waits until `more` further calls have finished (the traffic flows).
    async fn wait_for_calls(&self, more: u64) {
        let target = self.calls.load(Ordering::Relaxed) + more;
        while self.calls.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Seen::default();
        for writer in self.writers {
            let seen = writer.await.unwrap();
            all.calls += seen.calls;
            all.acknowledged.extend(seen.acknowledged);
            all.not_replicated += seen.not_replicated;
            all.errors.extend(seen.errors);
            all.longest = all.longest.max(seen.longest);
        }
        all
    }
}

fn cluster_of(deployment: &Deployment) -> &RedisCluster {
    match deployment {
        Deployment::Cluster(cluster) => cluster,
        Deployment::Server(_) => unreachable!(),
    }
}

async fn wait_until_healthy(deployment: &Arc<Deployment>) {
    let deployment = deployment.clone();
    tokio::task::spawn_blocking(move || cluster_of(&deployment).wait_until_healthy()).await.unwrap();
}

fn script_cached(cluster: &RedisCluster, port: u16) -> bool {
    let sha = redis::Script::new(agent_sessions_host::kv::redis::KV_BATCH_SCRIPT).get_hash().to_owned();
    let exists: Vec<bool> =
        redis::cmd("SCRIPT").arg("EXISTS").arg(sha).query(&mut cluster.connection(port)).expect("SCRIPT EXISTS");
    exists[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_promoted_by_cluster_failover_serves_without_a_visible_error() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let deployment = Arc::new(Deployment::cluster());
    let cluster = cluster_of(&deployment);
    let store = deployment.store().await;
    let traffic = Traffic::start(&store);
    traffic.wait_for_calls(200).await;

    let heir = cluster.replicas().remove(0);
    // The script cache is not replicated; make sure the heir's is empty.
    let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut cluster.connection(heir.port)).unwrap();
    assert!(!script_cached(cluster, heir.port));
    let started = Instant::now();
    let () = redis::cmd("CLUSTER").arg("FAILOVER").query(&mut cluster.connection(heir.port)).unwrap();
    wait_until_healthy(&deployment).await;
    assert!(cluster.primaries().iter().any(|node| node.port == heir.port), "the replica was promoted");
    println!("CLUSTER FAILOVER: healthy again after {:.2?}", started.elapsed());
    traffic.wait_for_calls(500).await;
    let seen = traffic.stop().await;

    assert!(script_cached(cluster, heir.port), "the host loaded the script on the new primary (NOSCRIPT handled)");
    println!(
        "failover: {} calls, {} errors, longest call {:.2?}, {} sessions created",
        seen.calls,
        seen.errors.len(),
        seen.longest,
        seen.acknowledged.len()
    );
    assert!(seen.errors.is_empty(), "errors: {:?}", seen.errors);
    for id in &seen.acknowledged {
        store.get(id).await.unwrap_or_else(|e| panic!("acknowledged session {id}: {e}"));
    }
    deployment.assert_no_violations(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_loses_no_write_acknowledged_by_a_replica() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut deployment = Deployment::cluster();
    let url = deployment.url();
    let options = RedisOptions {
        wait_replicas: Some(WaitReplicas { replicas: 1, timeout: Duration::from_millis(250) }),
        ..RedisOptions::default()
    };
    let store = SessionStore::builder().redis_with_options(&url, options).build().await.unwrap();
    let traffic = Traffic::start(&store);
    traffic.wait_for_calls(200).await;

    let Deployment::Cluster(cluster) = &mut deployment else { unreachable!() };
    let victim = cluster.primaries().remove(0);
    let killed = Instant::now();
    cluster.kill_node(victim.port);
    let deployment = Arc::new(deployment);
    wait_until_healthy(&deployment).await;
    println!("kill -9 of a primary: healthy again after {:.2?}", killed.elapsed());
    traffic.wait_for_calls(500).await;
    let seen = traffic.stop().await;

    println!(
        "kill -9: {} calls, {} errors, {} writes not confirmed by a replica (the promoted primary has none), \
         longest call {:.2?}, {} acknowledged creates checked one by one",
        seen.calls,
        seen.errors.len(),
        seen.not_replicated,
        seen.longest,
        seen.acknowledged.len()
    );
    assert!(seen.errors.is_empty(), "errors: {:?}", seen.errors);
    assert!(seen.not_replicated > 0, "the shards of the promoted primary have no replica left to confirm");
    for id in &seen.acknowledged {
        store.get(id).await.unwrap_or_else(|e| panic!("acknowledged session {id} was lost: {e}"));
    }
    deployment.assert_no_violations(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_moving_under_traffic_fail_no_operation() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let deployment = Arc::new(Deployment::cluster());
    let cluster = cluster_of(&deployment);
    let store = deployment.store().await;
    let traffic = Traffic::start(&store);
    traffic.wait_for_calls(300).await;

    let primaries = cluster.primaries();
    let (from, to) = (&primaries[0], &primaries[1]);
    let tag_slots: Vec<u16> = (0..64).map(|shard| cluster.keyslot(&tag(shard))).filter(|s| from.owns(*s)).collect();
    let started = Instant::now();
    let moving = {
        let (deployment, from, to) = (deployment.clone(), from.clone(), to.clone());
        // Every slot of `from`: all its shards move, keys and all.
        let slots: u32 = from.slots.iter().map(|range| u32::from(*range.end() - *range.start()) + 1).sum();
        tokio::task::spawn_blocking(move || cluster_of(&deployment).reshard(&from, &to, slots))
    };
    moving.await.unwrap();
    let moved = started.elapsed();
    traffic.wait_for_calls(300).await;
    let seen = traffic.stop().await;

    let now = cluster.primaries();
    let new_owner = now.iter().find(|node| node.port == to.port).unwrap();
    assert!(tag_slots.iter().all(|slot| new_owner.owns(*slot)), "the shards moved");
    println!(
        "reshard of {} shards' slots in {moved:.2?}: {} calls, {} errors, longest call {:.2?}",
        tag_slots.len(),
        seen.calls,
        seen.errors.len(),
        seen.longest
    );
    assert!(seen.errors.is_empty(), "errors: {:?}", seen.errors);
    for id in &seen.acknowledged {
        store.get(id).await.unwrap_or_else(|e| panic!("acknowledged session {id}: {e}"));
    }
    deployment.assert_no_violations(&store).await;
}
