// The JavaScript host's own behaviour: bad input, typed errors, Redis
// stopped and restarted mid-use, the hostile component, the instance pool,
// the sharded layout, secrets in messages, close().
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  BackendError, ComponentError, ConflictError, InvalidInputError, SessionError, SessionNotFoundError,
  SessionRepository,
} from '../src/index.js';
import { RedisServer, freePort } from './helpers.js';

describe('repository', () => {
  let server, client;
  const repos = [];
  const open = (options = {}, url = server.url) => {
    const repo = new SessionRepository(url, options);
    repos.push(repo);
    return repo;
  };
  before(async () => {
    server = await RedisServer.start();
    client = await server.client();
  });
  beforeEach(async () => {
    await Promise.all(repos.splice(0).map((repo) => repo.close()));
    await client.sendCommand(['FLUSHALL']);
  });
  after(async () => {
    await Promise.all(repos.splice(0).map((repo) => repo.close()));
    await client?.close();
    await server?.stop();
  });

  test('the lifecycle returns plain objects with snake_case fields', async () => {
    const repo = open();
    const created = await repo.createSession({ model_id: 'gpt-4', tools: ['a'], max_tokens: 100 });
    assert.equal(Object.getPrototypeOf(created), Object.prototype);
    assert.equal(created.model_id, 'gpt-4');
    assert.equal(created.version, 1);
    assert.equal(created.expires_in_seconds, 3600);
    assert.deepEqual(await repo.getSession(created.id), { ...created, expires_in_seconds: (await repo.getSession(created.id)).expires_in_seconds });
    assert.equal((await repo.updateSession(created.id, { name: 'n', expected_version: 1 })).version, 2);
    assert.equal(await repo.extendSessionTtl(created.id), true);
    const page = await repo.listSessions(10, 0);
    assert.equal(page.total, 1);
    assert.equal(page.next_page_token, null);
    assert.equal((await repo.stats()).sessions, 1);
    assert.equal(await repo.reindexSessions(), 0);
    assert.equal(await repo.cleanupExpiredSessions(), 0);
    assert.equal(await repo.deleteSession(created.id), true);
    assert.equal(await repo.deleteSession(created.id), false);
    assert.equal(await repo.getSession(created.id), null);
    assert.equal(await repo.extendSessionTtl(created.id), false);
    assert.equal(typeof (await repo.ping()), 'number');
  });

  test('call reaches any export by its WIT name, typed method or not; an unknown name is InvalidInputError', async () => {
    const repo = open();
    const created = JSON.parse(await repo.call('create', JSON.stringify({ model_id: 'm' })));
    assert.equal(await repo.call('extend-ttl', created.id), true);
    // An export without a typed method: the cleanup lease.
    assert.equal(await repo.call('acquire-cleanup-lease', 'worker-1', 60_000n), true);
    assert.equal(await repo.call('acquire-cleanup-lease', 'worker-2', 60_000n), false);
    assert.equal(await repo.call('release-cleanup-lease', 'worker-1'), true);
    const page = JSON.parse(await repo.call('export-sessions', ''));
    assert.deepEqual(page.sessions.map((s) => s.id), [created.id]);
    await assert.rejects(repo.call('get', '00000000-0000-4000-8000-000000000000'), SessionNotFoundError);
    await assert.rejects(repo.call('no-such-export'), (e) => e instanceof InvalidInputError && /pop-item/.test(e.message));
    assert.equal((await repo.getSession(created.id)).id, created.id, 'the instance is still fine');
  });

  test('check-layout runs once, before the first operation; then one round trip per call', async () => {
    const repo = open();
    assert.equal(repo.roundTrips, 0);
    const created = await repo.createSession({ model_id: 'm' });
    assert.equal(repo.roundTrips, 2); // check-layout, create
    await repo.getSession(created.id);
    await repo.extendSessionTtl(created.id);
    assert.equal(repo.roundTrips, 4);
  });

  test('corrupt data is DataCorruptError with the key and field', async () => {
    const repo = open();
    const created = await repo.createSession({ model_id: 'm' });
    await client.sendCommand(['HSET', `session:${created.id}:data`, 'temperature', 'warm']);
    const error = await repo.getSession(created.id).catch((e) => e);
    assert.equal(error.name, 'DataCorruptError');
    assert.equal(error.kind, 'data_corrupt');
    assert.equal(error.sessionId, created.id);
    assert.equal(error.key, `session:${created.id}:data`);
    assert.equal(error.field, 'temperature');
    assert.ok(error.message.includes(error.detail), error.message);
  });

  test('createSession takes a caller-chosen id', async () => {
    const repo = open();
    const created = await repo.createSession({ id: 'chat-42', model_id: 'm' });
    assert.equal(created.id, 'chat-42');
    assert.equal((await repo.getSession('chat-42')).model_id, 'm');
    await assert.rejects(repo.createSession({ id: 'chat-42', model_id: 'other' }),
      (error) => error instanceof ConflictError && error.message.includes('session chat-42 already exists'));
    const upper = await repo.createSession({ id: '0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10', model_id: 'm' });
    assert.equal(upper.id, '0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10');
    for (const id of ['a:b', '{x}', '', 'x'.repeat(129), 42, 'a b']) {
      await assert.rejects(repo.createSession({ id, model_id: 'm' }), { name: 'InvalidInputError' }, String(id));
    }
    assert.equal((await repo.listSessions()).total, 2);
  });

  test('bad input is InvalidInputError, before or inside the component', async () => {
    const repo = open();
    const invalid = { name: 'InvalidInputError', kind: 'invalid_input' };
    for (const input of [null, undefined, 'text', [], {}, { model_id: '' }, { model_id: 'm', temperature: Number.NaN },
      { model_id: 'm', temperature: 5 }, { model_id: 'm', max_tokens: 10n }, { model_id: 'm', unknown_field: 1 },
      { model_id: 'm', tools: 'search' }, { model_id: 'm', status: 'dancing' }]) {
      await assert.rejects(repo.createSession(input), invalid, JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
    }
    for (const id of [42, null, undefined, {}, 'not a uuid', 'a:b', '']) {
      await assert.rejects(repo.getSession(id), invalid, String(id));
      await assert.rejects(repo.deleteSession(id), invalid, String(id));
    }
    await assert.rejects(repo.listSessions(-1), invalid);
    await assert.rejects(repo.listSessions(1.5), invalid);
    await assert.rejects(repo.listSessions(1001), invalid);
    await assert.rejects(repo.listSessions(10, -1), invalid);
    await assert.rejects(repo.listSessions(10, 0, 7), invalid);
    await assert.rejects(repo.listSessions(10, 0, 'garbage-token'), invalid);
    const created = await repo.createSession({ model_id: 'm' });
    await assert.rejects(repo.updateSession(created.id, { clear: ['model_id'] }), invalid);
    await assert.rejects(repo.updateSession(created.id, null), invalid);
    assert.throws(() => new SessionRepository(server.url, { ttl: 0 }), InvalidInputError);
    assert.throws(() => new SessionRepository(server.url, { prefx: 'x' }), /unknown option/);
    // The repository still works after all that.
    assert.equal((await repo.getSession(created.id)).id, created.id);
  });

  test('errors are typed: not found, conflict', async () => {
    const repo = open();
    const missing = '00000000-0000-4000-8000-000000000000';
    const notFound = await repo.getSessionOrThrow(missing).catch((e) => e);
    assert.ok(notFound instanceof SessionNotFoundError && notFound instanceof SessionError && notFound instanceof Error);
    assert.equal(notFound.kind, 'not_found');
    await assert.rejects(repo.updateSession(missing, { name: 'x' }), SessionNotFoundError);
    const created = await repo.createSession({ model_id: 'm' });
    const conflict = await repo.updateSession(created.id, { name: 'x', expected_version: 7 }).catch((e) => e);
    assert.ok(conflict instanceof ConflictError);
    assert.equal(conflict.kind, 'conflict');
    assert.match(conflict.message, /7/);
  });

  test('Redis stopped and restarted mid-use: BackendError, then it works again', async () => {
    const own = await RedisServer.start();
    try {
      const repo = open({}, own.url);
      const created = await repo.createSession({ model_id: 'm' });
      await own.stop();
      const down = await repo.getSession(created.id).catch((e) => e);
      assert.ok(down instanceof BackendError, String(down));
      assert.equal(down.kind, 'backend');
      assert.equal(down.storageKind, 'unavailable');
      await assert.rejects(repo.createSession({ model_id: 'm' }), { storageKind: 'unavailable' });
      await assert.rejects(repo.ping(), BackendError);
      await own.start(); // empty: no persistence, and no script loaded (NOSCRIPT path)
      // The client reconnects by itself; until it has, calls fail fast.
      if (!repo.kv.client.isReady) await once(repo.kv.client, 'ready');
      assert.equal(await repo.getSession(created.id), null);
      const again = await repo.createSession({ model_id: 'after restart' });
      assert.equal((await repo.getSession(again.id)).model_id, 'after restart');
    } finally {
      await own.stop();
    }
  });

  test('no Redis at all: BackendError without the password in it', async () => {
    const port = await freePort();
    const repo = open({}, `redis://user:s3cret-pw@127.0.0.1:${port}/0`);
    const error = await repo.getSession('00000000-0000-4000-8000-000000000000').catch((e) => e);
    assert.ok(error instanceof BackendError, String(error));
    assert.equal(error.storageKind, 'unavailable');
    assert.ok(!error.message.includes('s3cret-pw'), error.message);
    assert.ok(error.message.includes('user:***@'), error.message);
    assert.ok(!repo.storage.includes('s3cret-pw'));
    // Many kv failures in a row leave the instances usable (each is the
    // contract's storage-failure, not an exception through the guest).
    const errors = await Promise.all(Array.from({ length: 300 }, () => repo.listSessions().catch((e) => e)));
    assert.ok(errors.every((e) => e instanceof BackendError && e.storageKind === 'unavailable'), String(errors[0]));
  });

  test('the pool: many concurrent calls, at most poolSize instances', async () => {
    const repo = open({ poolSize: 3 });
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => repo.createSession({ model_id: `m${i}` })));
    assert.equal(new Set(created.map((s) => s.id)).size, 40);
    const read = await Promise.all(created.map((s) => repo.getSession(s.id)));
    assert.deepEqual(read.map((s) => s.model_id), created.map((s) => s.model_id));
    assert.ok(repo.runtime.live <= 3, `live instances: ${repo.runtime.live}`);
    assert.equal((await repo.listSessions(1000)).total, 40);
  });

  test('shards: the sharded layout lists through execute-each; check-layout refuses another layout', async () => {
    const sharded = open({ shards: 8 });
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await sharded.createSession({ model_id: `m${i}` })).id);
    const page = await sharded.listSessions(20);
    assert.equal(page.total, 12);
    assert.deepEqual(new Set(page.sessions.map((s) => s.id)), new Set(ids));
    const keys = await client.sendCommand(['KEYS', '*{s*']);
    assert.ok(keys.length > 0, 'keys carry their shard hash tag');
    const plain = open({ shards: 0 });
    await assert.rejects(plain.getSession(ids[0]), InvalidInputError);
    const other = open({ shards: 4 });
    await assert.rejects(other.listSessions(), InvalidInputError);
    assert.equal((await open({ shards: 8 }).getSession(ids[0])).id, ids[0]);
  });

  test('the prefix, TTL and grace settings reach Redis', async () => {
    const repo = open({ prefix: 'app:', ttl: 120, grace: 30 });
    const created = await repo.createSession({ model_id: 'm' });
    assert.equal(created.expires_in_seconds, 120);
    const expiryTtl = await client.sendCommand(['TTL', `app:session_expiry:${created.id}`]);
    const dataTtl = await client.sendCommand(['TTL', `app:session:${created.id}:data`]);
    assert.ok(expiryTtl > 100 && expiryTtl <= 120, String(expiryTtl));
    assert.ok(dataTtl > 130 && dataTtl <= 150, String(dataTtl));
    assert.equal(await open().getSession(created.id), null); // not visible without the prefix
  });

  test('close(): later calls fail with BackendError', async () => {
    const repo = open();
    await repo.createSession({ model_id: 'm' });
    await repo.close();
    await assert.rejects(repo.listSessions(), BackendError);
    await repo.close(); // twice is fine
  });
});

describe('the hostile component', () => {
  let server;
  before(async () => {
    if (!existsSync(new URL('../generated/hostile/component.js', import.meta.url))) {
      throw new Error('generated/hostile is missing: build tests/hostile-guest (cargo build --workspace) and run npm run build');
    }
    server = await RedisServer.start();
  });
  after(async () => { await server?.stop(); });

  for (const [id, pattern] of [
    ['loop', /out of fuel/],
    ['grow', /memory limit of 16 MiB/],
    ['trap', /unreachable/],
    ['recurse', /session component failed/],
  ]) {
    test(`${id}: ComponentError, and the next call works`, async () => {
      const repo = new SessionRepository(server.url, { component: 'hostile', fuel: 20_000_000, memoryLimit: 16 << 20, poolSize: 1 });
      try {
        const error = await repo.getSession(id).catch((e) => e);
        assert.ok(error instanceof ComponentError, String(error));
        assert.equal(error.kind, 'component');
        assert.match(error.message, pattern);
        // The instance was dropped; a fresh one answers.
        await assert.rejects(repo.getSessionOrThrow('fine'), SessionNotFoundError);
        assert.equal(repo.runtime.live, 1);
        // Its polite refusal of everything else is a typed backend error.
        await assert.rejects(repo.createSession({ model_id: 'm' }), { kind: 'backend', storageKind: 'other' });
      } finally {
        await repo.close();
      }
    });
  }
});
