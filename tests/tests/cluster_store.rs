//! The session store on a real local Redis Cluster (3 primaries, 3
//! replicas): the sharded layout is chosen and recorded by itself, every
//! operation works, each session's keys share a slot, sessions spread over
//! the primaries, listing merges the shards, and cleanup, stats, export and
//! import walk every shard. Faults (failover, crash, slot migration) are in
//! `cluster_faults.rs`.

use std::collections::{HashMap, HashSet};

use agent_sessions_guest::id::SessionId;
use agent_sessions_host::{ConflictPolicy, Error, ImportRecord, SessionStore, SessionUpdate};
use agent_sessions_tests::deployment::Deployment;
use agent_sessions_tests::redis_cluster::RedisCluster;
use agent_sessions_tests::{RedisServer, minimal};

const SESSIONS: usize = 300;

async fn create_many(store: &SessionStore, count: usize) -> Vec<String> {
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in (task..count).step_by(16) {
                    ids.push(store.create(minimal(&format!("model-{n}"))).await.unwrap().id);
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids
}

fn cluster_of(deployment: &Deployment) -> &RedisCluster {
    match deployment {
        Deployment::Cluster(cluster) => cluster,
        Deployment::Server(_) => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_works_on_a_cluster_with_each_session_in_one_slot() {
    let deployment = Deployment::cluster();
    let cluster = cluster_of(&deployment);
    // Two seeds are enough; the client learns the rest.
    let seeds: Vec<String> = deployment.url().split(',').take(2).map(str::to_owned).collect();
    let store = SessionStore::connect(&seeds.join(",")).await.expect("connect to the cluster");
    assert_eq!(store.settings().shards, 64, "a cluster gets the sharded layout with 64 shards by default");
    let mut redis = deployment.connection().await;
    let recorded: String = redis.query(redis::cmd("HGET").arg("session_layout").arg("shards")).await.unwrap();
    assert_eq!(recorded, "64", "the layout is recorded");

    let ids = create_many(&store, SESSIONS).await;

    // Each session's keys are on one node, and in one slot.
    let layout = store.settings().layout();
    for id in ids.iter().take(8) {
        let keys = layout.session_keys(&SessionId::parse(id).unwrap());
        let slots: HashSet<u16> = [&keys.data, &keys.meta, &keys.expiry, &keys.active, &keys.index]
            .iter()
            .map(|k| cluster.keyslot(k))
            .collect();
        assert_eq!(slots.len(), 1, "keys of {id}: {keys:?}");
    }
    // Sessions spread over the primaries: each holds roughly a third.
    let primaries = cluster.primaries();
    let mut per_primary = Vec::new();
    for node in &primaries {
        let keys: Vec<String> =
            redis::cmd("KEYS").arg("session_expiry:*").query(&mut cluster.connection(node.port)).unwrap();
        per_primary.push(keys.len());
    }
    println!("{SESSIONS} sessions over {} primaries: {per_primary:?}", primaries.len());
    assert_eq!(per_primary.iter().sum::<usize>(), SESSIONS);
    assert!(per_primary.iter().all(|&n| n >= SESSIONS / 5), "uneven spread: {per_primary:?}");

    // Listing merges the shards, newest first; page tokens walk it all.
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    let mut first_pages = Vec::new();
    loop {
        let page = match &token {
            None => store.list(50, 0).await.unwrap(),
            Some(token) => store.list_after(50, token).await.unwrap(),
        };
        assert_eq!(page.total, SESSIONS as u64);
        first_pages.push(page.sessions.iter().map(|s| s.id.clone()).collect::<Vec<_>>());
        listed.extend(page.sessions.into_iter().map(|s| (s.meta.created_at, s.id)));
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(listed.len(), SESSIONS);
    assert!(listed.windows(2).all(|w| w[0].0 >= w[1].0), "newest first across shards");
    let listed_ids: HashSet<&String> = listed.iter().map(|(_, id)| id).collect();
    assert_eq!(listed_ids, ids.iter().collect::<HashSet<_>>());
    let by_offset = store.list(50, 50).await.unwrap();
    assert_eq!(by_offset.sessions.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), first_pages[1]);

    // One session through every operation.
    let id = &ids[0];
    let session = store.get(id).await.unwrap();
    let rename = SessionUpdate { name: Some("renamed".into()), expected_version: Some(1), ..Default::default() };
    assert_eq!(store.update(id, rename.clone()).await.unwrap().meta.version, 2);
    assert!(matches!(store.update(id, rename).await, Err(Error::Conflict(_))), "compare-and-set");
    assert!(store.extend_ttl(id).await.unwrap());
    assert_eq!(session.data.model_id, "model-0");
    assert!(store.delete(&ids[1]).await.unwrap());
    assert_eq!(store.get(&ids[1]).await, Err(Error::NotFound(ids[1].clone())));

    // Expiry and cleanup over every shard.
    deployment.expire(&store, &ids[2..22]);
    let report = store.cleanup_expired().await.unwrap();
    assert_eq!(report.removed, 20);
    let stats = store.stats(|_| {}).await.unwrap();
    assert_eq!(stats.sessions, (SESSIONS - 21) as u64);
    assert_eq!(stats.set_size, (SESSIONS - 21) as u64);
    assert!(stats.problems.is_empty(), "{:?}", stats.problems);
    assert_eq!(store.reindex().await.unwrap(), 0);
    deployment.assert_no_violations(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_refuses_the_documents_layout_and_another_shard_count() {
    let deployment = Deployment::cluster();
    let url = deployment.url();
    let store = SessionStore::connect(&url).await.unwrap();
    store.create(minimal("m")).await.unwrap();

    match SessionStore::builder().redis(&url).shards(0).build().await {
        Err(Error::InvalidInput(message)) => assert!(message.contains("only the sharded layout"), "{message}"),
        other => panic!("the document's layout on a cluster: {:?}", other.err()),
    }
    match SessionStore::builder().redis(&url).shards(32).build().await {
        Err(Error::InvalidInput(message)) => {
            assert!(message.contains("32 shards") && message.contains("64 shards"), "{message}")
        }
        other => panic!("another shard count: {:?}", other.err()),
    }
    // A single server is not a cluster: several URLs are refused.
    let server = RedisServer::start();
    let urls = format!("{},{}", server.url(), server.url());
    assert!(matches!(SessionStore::connect(&urls).await.err(), Some(Error::InvalidInput(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_move_between_a_server_and_a_cluster_by_export_and_import() {
    let server = RedisServer::start();
    let on_server = SessionStore::connect(&server.url()).await.unwrap();
    assert_eq!(on_server.settings().shards, 0, "one server keeps the document's layout by default");
    let ids = create_many(&on_server, 200).await;

    let deployment = Deployment::cluster();
    let on_cluster = SessionStore::connect(&deployment.url()).await.unwrap();
    let exported = export_all(&on_server).await;
    assert_eq!(exported.len(), 200);
    let report = on_cluster.import_sessions(exported.clone(), ConflictPolicy::Fail, false).await.unwrap();
    assert_eq!(report.imported, 200, "{report:?}");
    for id in &ids {
        assert_eq!(on_cluster.get(id).await.unwrap().data, on_server.get(id).await.unwrap().data);
    }
    // Again: every session is taken now; fail refuses, skip skips.
    let again = on_cluster.import_sessions(exported.clone(), ConflictPolicy::Skip, false).await.unwrap();
    assert_eq!((again.imported, again.skipped), (0, 200));
    deployment.assert_no_violations(&on_cluster).await;

    // And back, to a server with the sharded layout chosen up front.
    let other = RedisServer::start();
    let sharded = SessionStore::builder().redis(other.url()).shards(64).build().await.unwrap();
    let report = sharded.import_sessions(export_all(&on_cluster).await, ConflictPolicy::Fail, false).await.unwrap();
    assert_eq!(report.imported, 200);
    let back: HashMap<String, _> = export_all(&sharded)
        .await
        .into_iter()
        .map(|record| match record {
            ImportRecord::Stored(stored) => (stored.id.clone(), (sorted(stored.data), sorted(stored.meta))),
            other => panic!("export gives stored records: {other:?}"),
        })
        .collect();
    for record in exported {
        let ImportRecord::Stored(stored) = record else { unreachable!() };
        assert_eq!(back[&stored.id], (sorted(stored.data), sorted(stored.meta)), "byte for byte");
    }
    // The server now holds the sharded layout: a default store refuses it.
    match SessionStore::connect(&other.url()).await {
        Err(Error::InvalidInput(message)) => assert!(message.contains("sharded layout with 64 shards"), "{message}"),
        other => panic!("the document's layout on a sharded server: {:?}", other.err()),
    }
    // And the sharded layout refuses a server holding the document's.
    match SessionStore::builder().redis(server.url()).shards(64).build().await {
        Err(Error::InvalidInput(message)) => assert!(message.contains("active_sessions"), "{message}"),
        other => panic!("the sharded layout over the document's: {:?}", other.err()),
    }
}

fn sorted(mut fields: Vec<(String, String)>) -> Vec<(String, String)> {
    fields.sort();
    fields
}

async fn export_all(store: &SessionStore) -> Vec<ImportRecord> {
    let mut records = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = store.export_sessions(&cursor).await.unwrap();
        records.extend(page.sessions.into_iter().map(ImportRecord::Stored));
        if page.done {
            return records;
        }
        cursor = page.cursor;
    }
}
