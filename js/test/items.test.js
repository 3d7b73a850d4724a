// Conversation items, ownership and state through the JavaScript host:
// append/read/pop/clear, items kept byte for byte, paged reads, owners
// (listing, scoping, delete-with) and ADK's state prefixes.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  ConflictError, InvalidInputError, SessionNotFoundError, SessionRepository,
} from '../src/index.js';
import { RedisServer } from './helpers.js';

const notFound = { name: 'SessionNotFoundError', kind: 'not_found' };
const invalid = { name: 'InvalidInputError', kind: 'invalid_input' };

describe('items', () => {
  let server, client;
  const repos = [];
  const open = (options = {}) => {
    const repo = new SessionRepository(server.url, options);
    repos.push(repo);
    return repo;
  };
  const lrange = (id, prefix = '') => client.sendCommand(['LRANGE', `${prefix}session:${id}:items`, '0', '-1']);
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

  test('append, read, pop and clear round trip, each bumping the version', async () => {
    const repo = open();
    const { id } = await repo.createSession({ model_id: 'm' });
    const first = await repo.appendItems(id, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]);
    assert.deepEqual(Object.keys(first).sort(), ['count', 'created', 'id', 'updated_at', 'updated_at_ms', 'version']);
    assert.equal(first.id, id);
    assert.equal(first.version, 2);
    assert.equal(first.count, 2);
    assert.equal(first.created, false);
    assert.match(first.updated_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(typeof first.updated_at_ms, 'number');
    const second = await repo.appendItems(id, ['third'], { expectedVersion: 2 });
    assert.deepEqual([second.version, second.count], [3, 3]);

    const all = await repo.getItems(id);
    // A session without an owner keeps updated_at to the second only.
    assert.equal(Math.floor(all.updated_at_ms / 1000), Math.floor(second.updated_at_ms / 1000));
    assert.deepEqual(all, {
      id, items: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, 'third'],
      total: 3, first_index: 0, left_out: 0, version: 3, updated_at_ms: all.updated_at_ms,
    });
    assert.deepEqual((await repo.getItems(id, { last: 2 })).items, [{ role: 'assistant', content: 'hello' }, 'third']);
    assert.equal((await repo.getItems(id, { last: 2 })).first_index, 1);
    assert.deepEqual((await repo.getItems(id, { start: 0, stop: 0 })).items, [{ role: 'user', content: 'hi' }]);
    assert.deepEqual((await repo.getItems(id, { start: 1, stop: 5 })).items, [{ role: 'assistant', content: 'hello' }, 'third']);
    assert.deepEqual((await repo.getItems(id, { start: 7, stop: 9 })).items, []);
    assert.deepEqual((await repo.getItems(id, { last: 0 })).items, []);
    assert.equal(await repo.countItems(id), 3);
    assert.deepEqual(await repo.getAllItems(id, { last: 1 }), ['third']);
    assert.equal((await repo.getSession(id)).version, 3, 'reads write nothing');

    assert.deepEqual(await repo.popItem(id), { id, item: 'third', version: 4, count: 2 });
    await assert.rejects(repo.popItem(id, { expectedVersion: 3 }), ConflictError);
    const cleared = await repo.clearItems(id, { expectedVersion: 4 });
    assert.deepEqual([cleared.version, cleared.count], [5, 0]);
    assert.deepEqual(await repo.popItem(id), { id, item: null, version: 5, count: 0 }, 'an empty pop writes nothing');
    assert.equal(await repo.countItems(id), 0);
    const session = await repo.getSession(id);
    assert.equal(session.version, 5);
    assert.equal(session.model_id, 'm', 'clearing items keeps the session');

    assert.equal(await repo.deleteSession(id), true);
    assert.deepEqual(await client.sendCommand(['KEYS', '*']), [], 'delete removes the items too');
    for (const call of [repo.appendItems(id, [1]), repo.getItems(id), repo.popItem(id), repo.clearItems(id),
      repo.countItems(id), repo.getAllItems(id), repo.getConversation(id)]) {
      await assert.rejects(call, notFound);
    }
  });

  test('items are stored as JSON.stringify wrote them and read back equal; big integers as BigInt', async () => {
    const repo = open();
    const { id } = await repo.createSession({ model_id: 'm' });
    const items = [
      { z: 1, a: 2, m: { y: [1, 2.5, -0.125, 1e-7], b: null } },
      'héllo wörld 你好 🙂 \u2028 "quoted" \\ tab\t',
      { big: 123456789012345678901234567890n, negative: -9007199254740993n, safe: 9007199254740991 },
      [true, false, null, [], {}],
      12345678901234567890n,
      0,
      '',
    ];
    await repo.appendItems(id, items);
    const stored = await lrange(id);
    const written = items.map((item) => JSON.stringify(item, (_, v) => (typeof v === 'bigint' ? JSON.rawJSON(String(v)) : v)));
    assert.deepEqual(stored, written, 'each item is kept as the exact text sent');
    assert.equal(stored[2], '{"big":123456789012345678901234567890,"negative":-9007199254740993,"safe":9007199254740991}');
    const page = await repo.getItems(id);
    assert.deepEqual(page.items, items);
    assert.equal(typeof page.items[2].safe, 'number');
    assert.deepEqual(Object.keys(page.items[0]), ['z', 'a', 'm'], 'key order survives');

    // Text another writer stored (spacing, exponents, escapes) reads as its value.
    await client.sendCommand(['RPUSH', `session:${id}:items`, '{ "a" : 1.50, "b" : [ 1E3 ], "c": "\\u00e9" }']);
    assert.deepEqual((await repo.getItems(id, { last: 1 })).items, [{ a: 1.5, b: [1000], c: 'é' }]);
    // What is read can be appended again, big integers exact.
    const again = await repo.createSession({ model_id: 'm' });
    await repo.appendItems(again.id, page.items);
    assert.deepEqual(await lrange(again.id), written);
    // JSON.rawJSON inside an item is written as given.
    await repo.appendItems(again.id, [{ n: JSON.rawJSON('1.000') }]);
    assert.equal((await lrange(again.id)).at(-1), '{"n":1.000}');
  });

  test('a read past one page: left_out, then getAllItems and getConversation read the rest', async () => {
    const repo = open();
    const { id } = await repo.createSession({ model_id: 'm' });
    const numbers = Array.from({ length: 2500 }, (_, i) => i);
    for (let at = 0; at < numbers.length; at += 1000) await repo.appendItems(id, numbers.slice(at, at + 1000));
    const page = await repo.getItems(id);
    assert.deepEqual([page.items.length, page.first_index, page.left_out, page.total], [1000, 1500, 1500, 2500]);
    assert.deepEqual(page.items, numbers.slice(1500));
    assert.deepEqual(await repo.getAllItems(id), numbers);
    assert.deepEqual(await repo.getAllItems(id, { last: 1234 }), numbers.slice(-1234));
    const conversation = await repo.getConversation(id, { last: 1500 });
    assert.deepEqual(conversation.items, numbers.slice(-1500));
    assert.deepEqual([conversation.first_index, conversation.total, conversation.version], [1000, 2500, 4]);
    assert.equal(conversation.session.id, id);
    assert.deepEqual(conversation.state, {});
    assert.equal(await repo.countItems(id), 2500);
  });

  test('a paged read starts over when the session changes between pages, and gives up if it keeps changing', async () => {
    // The component reads the pages, one storage batch each: `races` times,
    // another repository appends before a batch after the first of a read.
    const writer = open();
    class Racing extends SessionRepository {
      races = 0;
      constructor(url) {
        super(url);
        const execute = this.kv.execute.bind(this.kv);
        this.kv.execute = async (keys, batch) => {
          if (this.reading !== undefined && this.batches++ > 0 && this.races-- > 0) {
            await writer.appendItems(this.reading, ['late']);
          }
          return execute(keys, batch);
        };
      }
      async #racing(id, read) {
        [this.reading, this.batches] = [id, 0];
        try { return await read(); } finally { this.reading = undefined; }
      }
      getAllItems(id, options) { return this.#racing(id, () => super.getAllItems(id, options)); }
      getConversation(id, options) { return this.#racing(id, () => super.getConversation(id, options)); }
    }
    const repo = new Racing(server.url);
    repos.push(repo);
    const { id } = await repo.createSession({ model_id: 'm' });
    const numbers = Array.from({ length: 1001 }, (_, i) => i);
    await repo.appendItems(id, numbers.slice(0, 1000));
    await repo.appendItems(id, [1000]);
    repo.races = 1;
    assert.deepEqual(await repo.getAllItems(id), [...numbers, 'late']);
    repo.races = 1;
    const conversation = await repo.getConversation(id);
    assert.deepEqual(conversation.items, [...numbers, 'late', 'late']);
    assert.equal(conversation.first_index, 0);
    repo.races = 100;
    await assert.rejects(repo.getAllItems(id), (error) => error instanceof ConflictError && /kept changing/.test(error.message));
    await assert.rejects(repo.getConversation(id), ConflictError);
  });

  test('keepLast trims in the same step; createIfMissing creates once', async () => {
    const repo = open();
    const receipt = await repo.appendItems('chat-7', ['a', 'b'], { createIfMissing: { model_id: 'm', name: 'n' } });
    assert.equal(receipt.created, true);
    assert.equal(receipt.id, 'chat-7');
    const session = await repo.getSession('chat-7');
    assert.equal(session.name, 'n');
    const next = await repo.appendItems('chat-7', ['c', 'd', 'e'], { keepLast: 3, createIfMissing: { model_id: 'other' } });
    assert.deepEqual([next.created, next.count], [false, 3]);
    assert.deepEqual(await repo.getAllItems('chat-7'), ['c', 'd', 'e']);
    assert.equal((await repo.getSession('chat-7')).model_id, 'm');
    // Concurrent first uses make one session, and every batch lands whole.
    const batches = Array.from({ length: 8 }, (_, i) => [`${i}.0`, `${i}.1`, `${i}.2`]);
    const receipts = await Promise.all(batches.map((batch) => repo.appendItems('chat-8', batch, { createIfMissing: { model_id: 'm' } })));
    assert.equal(receipts.filter((r) => r.created).length, 1);
    const stored = await repo.getAllItems('chat-8');
    assert.equal(stored.length, 24);
    for (let at = 0; at < stored.length; at += 3) {
      const run = stored[at].split('.')[0];
      assert.deepEqual(stored.slice(at, at + 3), [`${run}.0`, `${run}.1`, `${run}.2`], 'each batch is contiguous');
    }
  });

  test('bad input is InvalidInputError, before or inside the component', async () => {
    const repo = open();
    const { id } = await repo.createSession({ model_id: 'm' });
    for (const items of [undefined, null, 'x', { 0: 1 }, [], [undefined], [() => 1], [NaN], [{ a: Infinity }],
      Array.from({ length: 1001 }, () => 1)]) {
      await assert.rejects(repo.appendItems(id, items), invalid, String(items));
    }
    for (const options of [{ expected_version: 1 }, { owner: { appName: 'a', userId: 'u' } }, { owner: 'a' },
      { keepLast: 0 }, { stateDelta: [] }, { stateDelta: { '': 1 } }, { createIfMissing: 'm' }, 'x']) {
      await assert.rejects(repo.appendItems(id, [1], options), invalid, JSON.stringify(options));
    }
    for (const options of [{ last: -1 }, { last: 1.5 }, { last: 1, start: 0, stop: 0 }, { limit: 1 },
      { owner: { app_name: 'a' } }, { owner: { app_name: '', user_id: 'u' } }]) {
      await assert.rejects(repo.getItems(id, options), invalid, JSON.stringify(options));
    }
    await assert.rejects(repo.popItem(id, { expectedVersion: 'x' }), invalid);
    await assert.rejects(repo.clearItems(id, { last: 1 }), invalid);
    await assert.rejects(repo.deleteSession(id, { owner: 'x' }), invalid);
    await assert.rejects(repo.appendItems(42, [1]), invalid);
    await assert.rejects(repo.appendItems('a:b', [1]), invalid);
    for (const [app, user, options] of [[42, null, {}], ['', null, {}], ['a', 7, {}], ['a', null, { limit: 0 }],
      ['a', null, { limit: 1001 }], ['a', null, { limit: -1 }], ['a', null, { pageToken: 5 }], ['a', null, { page_token: 'x' }]]) {
      await assert.rejects(repo.listByOwner(app, user, options), invalid, JSON.stringify([app, user, options]));
    }
    assert.equal(await repo.countItems(id), 0, 'nothing was written');
    assert.equal((await repo.getSession(id)).version, 1);
  });
});

describe('owners and state', () => {
  let server, client, repo;
  const A = { app_name: 'support-bot', user_id: 'alice' };
  const B = { app_name: 'support-bot', user_id: 'bob' };
  before(async () => {
    server = await RedisServer.start();
    client = await server.client();
  });
  beforeEach(async () => {
    await repo?.close();
    await client.sendCommand(['FLUSHALL']);
    repo = new SessionRepository(server.url);
  });
  after(async () => {
    await repo?.close();
    await client?.close();
    await server?.stop();
  });

  test('listByOwner lists an app user\'s sessions newest-updated first, in pages', async () => {
    const ids = [];
    for (const owner of [A, A, B, A]) ids.push((await repo.createSession({ model_id: 'm', ...owner })).id);
    await repo.createSession({ model_id: 'm', app_name: 'other-app', user_id: 'alice' });
    const unowned = await repo.createSession({ model_id: 'm' });
    await repo.appendItems(ids[0], ['bump'], { owner: A });

    const alice = await repo.listByOwner('support-bot', 'alice');
    assert.deepEqual(new Set(alice.sessions.map((s) => s.id)), new Set([ids[0], ids[1], ids[3]]));
    const times = alice.sessions.map((s) => s.updated_at_ms);
    assert.deepEqual(times, [...times].sort((x, y) => y - x), 'newest-updated first');
    assert.equal(alice.next_page_token, null);
    assert.deepEqual(alice.corrupt, []);
    const owned = alice.sessions.find((s) => s.id === ids[0]);
    assert.deepEqual(Object.keys(owned).sort(), ['app_name', 'created_at', 'id', 'state', 'updated_at', 'updated_at_ms', 'user_id', 'version']);
    assert.deepEqual([owned.app_name, owned.user_id, owned.version], ['support-bot', 'alice', 2]);

    // Every user of the app, one per page.
    const seen = [];
    let pageToken = null;
    do {
      const page = await repo.listByOwner('support-bot', null, { limit: 1, pageToken });
      assert.ok(page.sessions.length <= 1);
      seen.push(...page.sessions.map((s) => s.id));
      pageToken = page.next_page_token;
    } while (pageToken !== null);
    assert.deepEqual(seen.sort(), [ids[0], ids[1], ids[2], ids[3]].sort());
    assert.deepEqual((await repo.listByOwner('nobody')).sessions, []);

    const session = await repo.getSession(ids[2]);
    assert.deepEqual([session.app_name, session.user_id], ['support-bot', 'bob']);
    assert.equal('app_name' in unowned, false, 'an unowned session has no owner fields');
    assert.equal((await repo.listSessions(10)).total, 6, 'owned sessions are listed as any');
  });

  test('an owned session is found only under its owner; deleteSession with options', async () => {
    const { id } = await repo.createSession({ model_id: 'm', ...A });
    await repo.appendItems(id, ['x'], { owner: A });
    for (const call of [repo.getItems(id, { owner: B }), repo.appendItems(id, ['y'], { owner: B }),
      repo.popItem(id, { owner: B }), repo.clearItems(id, { owner: B }), repo.countItems(id, { owner: B }),
      repo.getConversation(id, { owner: ['support-bot', 'bob'] })]) {
      await assert.rejects(call, SessionNotFoundError);
    }
    assert.equal(await repo.countItems(id, { owner: ['support-bot', 'alice'] }), 1);
    assert.equal(await repo.countItems(id), 1, 'no owner given: no owner check');

    assert.equal(await repo.deleteSession(id, { owner: B }), false, 'another owner\'s session is not deleted');
    await assert.rejects(repo.deleteSession(id, { owner: A, expectedVersion: 1 }), ConflictError);
    assert.equal((await repo.getSession(id)).version, 2);
    assert.equal(await repo.deleteSession(id, { owner: A, expectedVersion: 2 }), true);
    assert.deepEqual(await client.sendCommand(['KEYS', '*']), [], 'no key or owner index entry is left');
    assert.deepEqual((await repo.listByOwner('support-bot', 'alice')).sessions, []);
    assert.equal(await repo.deleteSession(id, { owner: A }), false);

    const plain = await repo.createSession({ model_id: 'm' });
    assert.equal(await repo.deleteSession(plain.id, { expectedVersion: 1 }), true);
  });

  test('state prefixes: app: and user: keys are shared, temp: keys dropped, the rest the session\'s own', async () => {
    const a1 = await repo.createSession({
      model_id: 'm', ...A, state: { topic: 'billing', 'app:greeting': 'hi', 'user:lang': 'fr', 'temp:scratch': 1 },
    });
    const b1 = await repo.createSession({ model_id: 'm', ...B, state: { topic: 'returns' } });
    await repo.appendItems(b1.id, [{ role: 'user', content: 'q' }], {
      owner: B, stateDelta: { 'user:lang': 'de', 'app:limit': 3, 'temp:x': true, step: 1, big: 2n ** 70n },
    });

    const alice = await repo.getConversation(a1.id, { owner: A });
    assert.deepEqual(alice.state, { topic: 'billing', 'app:greeting': 'hi', 'app:limit': 3, 'user:lang': 'fr' });
    assert.deepEqual(alice.items, []);
    assert.equal(alice.session.id, a1.id);
    assert.deepEqual(Object.keys(alice).sort(), ['first_index', 'items', 'session', 'state', 'total', 'updated_at_ms', 'version']);
    const bob = await repo.getConversation(b1.id);
    assert.deepEqual(bob.state, {
      topic: 'returns', step: 1, big: 2n ** 70n, 'app:greeting': 'hi', 'app:limit': 3, 'user:lang': 'de',
    });
    assert.deepEqual(bob.items, [{ role: 'user', content: 'q' }]);

    const page = await repo.listByOwner('support-bot');
    assert.deepEqual(page.app_state, { greeting: 'hi', limit: 3 });
    assert.deepEqual(page.user_states, { alice: { lang: 'fr' }, bob: { lang: 'de' } });
    assert.deepEqual(page.sessions.find((s) => s.id === b1.id).state, { topic: 'returns', step: 1, big: 2n ** 70n });

    const plain = await repo.createSession({ model_id: 'm', state: { k: [1, 2] } });
    assert.deepEqual((await repo.getConversation(plain.id)).state, { k: [1, 2] });
    for (const key of ['app:x', 'user:x']) {
      await assert.rejects(repo.appendItems(plain.id, [1], { stateDelta: { [key]: 1 } }),
        (error) => error instanceof InvalidInputError && error.message.includes('only a session with an owner'));
    }
    await assert.rejects(repo.createSession({ model_id: 'm', app_name: 'a' }), invalid);
  });

  test('the sharded layout holds items, owners and state the same way', async () => {
    await repo.close();
    repo = new SessionRepository(server.url, { shards: 4 });
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await repo.createSession({ model_id: 'm', ...(i % 2 ? A : B), state: { 'app:n': i } })).id);
    for (const id of ids) await repo.appendItems(id, [id, { n: 1 }]);
    assert.deepEqual(await repo.getAllItems(ids[3]), [ids[3], { n: 1 }]);
    const page = await repo.listByOwner('support-bot', 'alice', { limit: 1000 });
    assert.deepEqual(page.sessions.map((s) => s.id).sort(), [ids[1], ids[3], ids[5]].sort());
    assert.deepEqual(page.app_state, { n: 5 });
    assert.equal((await repo.popItem(ids[1], { owner: A })).count, 1);
    assert.equal(await repo.deleteSession(ids[1], { owner: A }), true);
    assert.equal((await repo.listByOwner('support-bot', 'alice')).sessions.length, 2);
    const stats = await repo.stats();
    assert.deepEqual([stats.sessions, stats.owned_sessions, stats.items, stats.sessions_with_items, stats.max_items],
      [5, 5, 10, 5, 2]);
  });
});
