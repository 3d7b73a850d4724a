// The JavaScript host on a real Redis Cluster (three primaries): the sharded
// layout (64 shards by default), EVALSHA routed to each batch's slot,
// listing through execute-each across nodes, NOSCRIPT on a node that lost
// its script cache, and interop with the Rust CLI on the same cluster.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { createCluster } from 'redis';
import { InvalidInputError, SessionRepository } from '../src/index.js';
import { RedisCluster, sessionsCli } from './helpers.js';

describe('Redis Cluster', () => {
  let cluster;
  const repos = [];
  const open = (options) => {
    const repo = new SessionRepository(cluster.url, options);
    repos.push(repo);
    return repo;
  };
  before(async () => { cluster = await RedisCluster.start(); });
  after(async () => {
    await Promise.all(repos.map((repo) => repo.close()));
    await cluster?.stop();
  });

  test('every operation in the sharded layout, sessions spread over the nodes', async () => {
    const repo = open();
    assert.equal(repo.shards, 64);
    const ids = [];
    for (let i = 0; i < 30; i++) ids.push((await repo.createSession({ model_id: `m${i}` })).id);
    const page = await repo.listSessions(50);
    assert.equal(page.total, 30);
    assert.deepEqual(new Set(page.sessions.map((s) => s.id)), new Set(ids));
    let token = null;
    const seen = [];
    do {
      const next = await repo.listSessions(7, 0, token);
      seen.push(...next.sessions.map((s) => s.id));
      token = next.next_page_token;
    } while (token !== null);
    assert.deepEqual(seen.sort(), [...ids].sort());
    assert.equal((await repo.updateSession(ids[0], { name: 'x', expected_version: 1 })).version, 2);
    assert.equal(await repo.extendSessionTtl(ids[1]), true);
    assert.equal(await repo.deleteSession(ids[2]), true);
    assert.equal(await repo.getSession(ids[2]), null);
    // Keys landed on every primary.
    const counts = cluster.servers.map((s) => Number(spawnSync('redis-cli', ['-p', String(s.port), 'dbsize'], { encoding: 'utf8' }).stdout));
    assert.ok(counts.every((n) => n > 0), `keys per node: ${counts}`);
    assert.equal((await repo.stats()).sessions, 29);
    assert.equal(await repo.cleanupExpiredSessions(), 0);
  });

  test('items, owners and state on the cluster: app and user state in their own slots, owner listing across nodes', async () => {
    const repo = open();
    const ana = { app_name: 'shop', user_id: 'ana' };
    const ids = [];
    for (let i = 0; i < 12; i++) {
      const owner = i % 3 === 0 ? ana : { app_name: 'shop', user_id: `u${i}` };
      ids.push((await repo.createSession({ id: `conv-${i}`, model_id: 'm', ...owner, state: { n: i } })).id);
    }
    await repo.appendItems('conv-0', [{ role: 'user', content: 'hi' }, 12345678901234567890n], {
      owner: ana, stateDelta: { 'app:greeting': 'hello', 'user:lang': 'pt', 'temp:x': 1, step: 1 },
    });
    const conversation = await repo.getConversation('conv-0', { owner: ana });
    assert.deepEqual(conversation.items, [{ role: 'user', content: 'hi' }, 12345678901234567890n]);
    assert.deepEqual(conversation.state, { n: 0, step: 1, 'app:greeting': 'hello', 'user:lang': 'pt' });
    assert.deepEqual((await repo.getConversation('conv-4')).state, { n: 4, 'app:greeting': 'hello' });
    const mine = await repo.listByOwner('shop', 'ana');
    assert.deepEqual(mine.sessions.map((s) => s.id).sort(), ['conv-0', 'conv-3', 'conv-6', 'conv-9']);
    assert.deepEqual([mine.app_state, mine.user_states], [{ greeting: 'hello' }, { ana: { lang: 'pt' } }]);
    const seen = [];
    let pageToken = null;
    do {
      const page = await repo.listByOwner('shop', null, { limit: 5, pageToken });
      seen.push(...page.sessions.map((s) => s.id));
      pageToken = page.next_page_token;
    } while (pageToken !== null);
    assert.deepEqual(seen.sort(), [...ids].sort());
    assert.deepEqual(await repo.popItem('conv-0', { owner: ana }), { id: 'conv-0', item: 12345678901234567890n, version: 3, count: 1 });
    assert.equal((await repo.clearItems('conv-0')).count, 0);
    assert.equal(await repo.deleteSession('conv-3', { owner: ana, expectedVersion: 1 }), true);
    assert.equal((await repo.listByOwner('shop', 'ana')).sessions.length, 3);
  });

  test('NOSCRIPT on a node whose script cache was flushed: loaded again, the batch runs once', async () => {
    const repo = open();
    const created = await repo.createSession({ model_id: 'before flush' });
    const admin = createCluster({ rootNodes: [{ url: cluster.url.split(',')[0] }] });
    admin.on('error', () => {});
    await admin.connect();
    for (const node of admin.masters) {
      const client = await admin.nodeClient(node);
      await client.sendCommand(['SCRIPT', 'FLUSH']);
    }
    await admin.close();
    assert.equal((await repo.updateSession(created.id, { name: 'after flush' })).version, 2);
    assert.equal((await repo.getSession(created.id)).name, 'after flush');
  });

  test('shards: 0 is refused on a cluster', () => {
    assert.throws(() => new SessionRepository(cluster.url, { shards: 0 }), InvalidInputError);
  });

  test('interop with the Rust CLI on the same cluster', async () => {
    const repo = open();
    const seed = cluster.url.split(',')[0];
    const run = (...args) => spawnSync(sessionsCli(), ['--redis', seed, '--json', ...args], { encoding: 'utf8', timeout: 60_000 });
    const created = await repo.createSession({ model_id: 'from js' });
    const seen = run('get', created.id);
    assert.equal(seen.status, 0, seen.stderr);
    assert.equal(JSON.parse(seen.stdout).model_id, 'from js');
    const fromRust = run('create', '--model-id', 'from rust');
    assert.equal(fromRust.status, 0, fromRust.stderr);
    const id = JSON.parse(fromRust.stdout).id;
    assert.equal((await repo.getSession(id)).model_id, 'from rust');
    assert.equal(await repo.deleteSession(id), true);
    assert.equal(run('get', id).status, 3);
  });
});
