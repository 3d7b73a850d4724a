// Cross-host interop on one Redis: sessions written through the JavaScript
// host are read, updated and deleted by the Rust CLI and by the Python
// package, and the reverse. All load the same component.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SessionRepository } from '../src/index.js';
import { REPO, RedisServer, sessionsCli } from './helpers.js';

const EXAMPLE = {
  model_id: 'gpt-4', name: 'From JS', temperature: 0.7, tools: ['search', 'code_analysis'], status: 'idle',
};

function cli(url, ...args) {
  return spawnSync(sessionsCli(), ['--redis', url, '--json', ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** The CLI without --json, `input` on its stdin. */
function cliText(url, input, ...args) {
  const done = spawnSync(sessionsCli(), ['--redis', url, ...args], { encoding: 'utf8', timeout: 60_000, input });
  assert.equal(done.status, 0, `sessions ${args.join(' ')} exited ${done.status}: ${done.stderr}`);
  return done.stdout;
}

function cliJson(url, ...args) {
  const done = cli(url, ...args);
  assert.equal(done.status, 0, `sessions ${args.join(' ')} exited ${done.status}: ${done.stderr}`);
  return JSON.parse(done.stdout);
}

// The Python package (.venv of the repository, or PYTHON_INTEROP): one
// repository call per run, its result printed as JSON.
function python() {
  for (const path of [process.env.PYTHON_INTEROP, `${REPO}.venv/bin/python`]) {
    if (path && existsSync(path)) return path;
  }
  throw new Error('no Python with the agent_sessions package: run `make setup` (it makes .venv), or set PYTHON_INTEROP');
}

const PY = `
import dataclasses, json, sys
from agent_sessions import SessionRepository
repo = SessionRepository(sys.argv[1])
method, args = sys.argv[2], json.loads(sys.argv[3])
kwargs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
result = getattr(repo, method)(*args, **kwargs)
print(json.dumps(dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result))
repo.close()
`;

function py(url, method, ...args) {
  return pyKeywords(url, method, args, {});
}

// Integers past 2^53 both ways as BigInt (as the JavaScript host reads them).
const bigIntegers = (_, value) => (typeof value === 'bigint' ? JSON.rawJSON(String(value)) : value);
const exactIntegers = (_, value, context) => (typeof value === 'number' && !Number.isSafeInteger(value)
  && /^-?\d+$/.test(context.source) ? BigInt(context.source) : value);

function pyKeywords(url, method, args, kwargs) {
  const done = spawnSync(python(), ['-c', PY, url, method, JSON.stringify(args, bigIntegers), JSON.stringify(kwargs, bigIntegers)], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(done.status, 0, `python ${method} exited ${done.status}: ${done.stderr}`);
  return JSON.parse(done.stdout, exactIntegers);
}

// The TTL left differs by when each host read it. A session without an
// owner has no app_name and user_id in the document (JS, the CLI); Python's
// dataclass has them as None.
const withoutTtl = (session) => ({ app_name: null, user_id: null, ...session, expires_in_seconds: null });

const OWNER = { app_name: 'support-bot', user_id: 'alice' };
const ITEMS = [
  { role: 'user', content: 'héllo 你好 🙂', z: 1, a: [1.5, null, true] },
  { role: 'assistant', content: 'big', id: 123456789012345678901234567890n },
  'plain text',
];

describe('interop', () => {
  let server, repo, client;
  before(async () => {
    server = await RedisServer.start();
    client = await server.client();
  });
  beforeEach(async () => {
    await client.sendCommand(['FLUSHALL']);
    await repo?.close();
    repo = new SessionRepository(server.url);
  });
  after(async () => {
    await repo?.close();
    await client?.close();
    await server?.stop();
  });

  test('JS writes; the Rust CLI reads, updates, lists and deletes', async () => {
    const created = await repo.createSession(EXAMPLE);
    assert.deepEqual(withoutTtl(cliJson(server.url, 'get', created.id)), withoutTtl(created));
    const updated = cliJson(server.url, 'update', created.id, '--name', 'From Rust', '--expect-version', '1');
    assert.equal(updated.version, 2);
    const again = await repo.getSession(created.id);
    assert.equal(again.name, 'From Rust');
    assert.equal(again.version, 2);
    assert.deepEqual(again.tools, ['search', 'code_analysis']);
    assert.equal(again.temperature, 0.7);
    assert.deepEqual(cliJson(server.url, 'list').sessions.map((s) => s.id), [created.id]);
    assert.equal(cli(server.url, 'delete', created.id).status, 0);
    assert.equal(await repo.getSession(created.id), null);
    assert.equal(cli(server.url, 'get', created.id).status, 3);
  });

  test('the Rust CLI writes; JS reads, updates and deletes', async () => {
    const created = cliJson(server.url, 'create', '--model-id', 'gpt-4', '--temperature', '0.7', '--tool', 'search',
      '--tool', 'code_analysis', '--status', 'idle');
    assert.deepEqual(withoutTtl(await repo.getSession(created.id)), withoutTtl(created));
    const updated = await repo.updateSession(created.id, { max_tokens: 500, clear: ['tools'], expected_version: 1 });
    assert.equal(updated.version, 2);
    const fromRust = cliJson(server.url, 'get', created.id);
    assert.equal(fromRust.max_tokens, 500);
    assert.deepEqual(fromRust.tools, []);
    assert.equal(fromRust.status, 'idle');
    const stale = cli(server.url, 'update', created.id, '--name', 'x', '--expect-version', '1');
    assert.equal(stale.status, 4, stale.stderr);
    assert.equal(await repo.deleteSession(created.id), true);
    assert.equal(cli(server.url, 'get', created.id).status, 3);
  });

  test('JS writes; Python reads, updates and deletes', async () => {
    const created = await repo.createSession(EXAMPLE);
    assert.deepEqual(withoutTtl(py(server.url, 'get_session', created.id)), withoutTtl(created));
    const updated = py(server.url, 'update_session', created.id, { name: 'From Python', expected_version: 1 });
    assert.equal(updated.version, 2);
    const again = await repo.getSession(created.id);
    assert.equal(again.name, 'From Python');
    assert.equal(again.version, 2);
    await assert.rejects(repo.updateSession(created.id, { name: 'late', expected_version: 1 }), { kind: 'conflict' });
    assert.equal(py(server.url, 'delete_session', created.id), true);
    assert.equal(await repo.getSession(created.id), null);
  });

  test('Python writes; JS reads, updates and deletes; list and cleanup are shared', async () => {
    const created = py(server.url, 'create_session', { model_id: 'py', tools: ['t'], max_tokens: 10 });
    assert.deepEqual(withoutTtl(await repo.getSession(created.id)), withoutTtl(created));
    const updated = await repo.updateSession(created.id, { clear: ['max_tokens'], expected_version: 1 });
    assert.equal(updated.max_tokens, null);
    assert.equal(py(server.url, 'get_session', created.id).version, 2);
    const fromJs = await repo.createSession({ model_id: 'js' });
    const page = await repo.listSessions();
    assert.deepEqual(new Set(page.sessions.map((s) => s.id)), new Set([created.id, fromJs.id]));
    await client.sendCommand(['DEL', `session_expiry:${created.id}`, `session_expiry:${fromJs.id}`]);
    assert.equal(cliJson(server.url, 'cleanup').removed, 2);
    assert.equal(await repo.cleanupExpiredSessions(), 0);
    assert.equal(py(server.url, 'cleanup_expired_sessions'), 0);
    assert.deepEqual(await client.sendCommand(['KEYS', '*']), []);
  });

  test('items: JS appends, Python reads, pops and appends, JS reads back; state and owner are shared', async () => {
    const { id } = await repo.createSession({ model_id: 'm', ...OWNER, state: { 'app:tone': 'formal' } });
    await repo.appendItems(id, ITEMS, { owner: OWNER, stateDelta: { 'user:lang': 'fr', step: 1 } });
    assert.deepEqual(pyKeywords(server.url, 'get_all_items', [id], { owner: OWNER }), ITEMS);
    const conversation = pyKeywords(server.url, 'get_conversation', [id], { owner: OWNER, last: 2 });
    assert.deepEqual(conversation.items, ITEMS.slice(1));
    assert.deepEqual(conversation.state, { 'app:tone': 'formal', 'user:lang': 'fr', step: 1 });
    assert.deepEqual([conversation.session.app_name, conversation.session.user_id], ['support-bot', 'alice']);
    assert.deepEqual(pyKeywords(server.url, 'pop_item', [id], { owner: OWNER, expected_version: 2 }),
      { id, item: 'plain text', version: 3, count: 2 });

    const fromPython = [{ role: 'tool', content: 'ü', n: 2n ** 64n + 1n }, [1e-7, -0.5]];
    const receipt = pyKeywords(server.url, 'append_items', [id, fromPython], { owner: OWNER, state_delta: { step: 2 } });
    assert.deepEqual([receipt.version, receipt.count], [4, 4]);
    // Each item as its writer's JSON encoder wrote it, read back as the same value.
    const stored = await client.sendCommand(['LRANGE', `session:${id}:items`, '0', '-1']);
    assert.equal(stored[1], JSON.stringify(ITEMS[1], bigIntegers));
    assert.equal(stored[2], '{"role":"tool","content":"ü","n":18446744073709551617}');
    assert.equal(stored[3], '[1e-07,-0.5]');
    assert.deepEqual(await repo.getAllItems(id), [...ITEMS.slice(0, 2), ...fromPython]);
    assert.equal((await repo.getConversation(id)).state.step, 2);
    assert.equal(pyKeywords(server.url, 'count_items', [id], {}), 4);
    assert.deepEqual(await repo.clearItems(id, { owner: OWNER }).then((r) => r.count), 0);
    assert.equal(pyKeywords(server.url, 'count_items', [id], {}), 0);
  });

  test('owners: Python lists and deletes what JS created, JS lists and deletes what Python created', async () => {
    const fromJs = await repo.createSession({ model_id: 'js', ...OWNER });
    const fromPython = pyKeywords(server.url, 'create_session', [{ model_id: 'py', ...OWNER, state: { 'user:plan': 'pro' } }], {});
    assert.deepEqual([fromPython.app_name, fromPython.user_id], ['support-bot', 'alice']);
    const pythonPage = pyKeywords(server.url, 'list_sessions_by_owner', ['support-bot', 'alice'], {});
    assert.deepEqual(new Set(pythonPage.sessions.map((s) => s.id)), new Set([fromJs.id, fromPython.id]));
    const jsPage = await repo.listByOwner('support-bot', 'alice');
    assert.deepEqual(jsPage.sessions.map((s) => s.id), pythonPage.sessions.map((s) => s.id));
    assert.deepEqual(jsPage.user_states, { alice: { plan: 'pro' } });

    assert.equal(pyKeywords(server.url, 'delete_session', [fromJs.id], { owner: { ...OWNER, user_id: 'bob' } }), false);
    assert.equal(pyKeywords(server.url, 'delete_session', [fromJs.id], { owner: OWNER, expected_version: 1 }), true);
    assert.equal(await repo.deleteSession(fromPython.id, { owner: OWNER, expectedVersion: 1 }), true);
    assert.deepEqual(pyKeywords(server.url, 'list_sessions_by_owner', ['support-bot'], {}).sessions, []);
  });

  test('items: JS appends, the Rust CLI prints them as stored, appends and pops; JS reads back', async () => {
    const owner = ['--app-name', 'support-bot', '--user-id', 'alice'];
    await repo.createSession({ id: 'chat-cli', model_id: 'm', ...OWNER });
    await repo.appendItems('chat-cli', ITEMS, { owner: OWNER });
    assert.equal(cliText(server.url, '', 'items', 'chat-cli', ...owner),
      ITEMS.map((item) => `${JSON.stringify(item, bigIntegers)}\n`).join(''));
    assert.equal(cli(server.url, 'items', 'chat-cli', '--app-name', 'support-bot', '--user-id', 'bob').status, 3);

    const lines = ['{"role": "tool",  "n": 18446744073709551617}', '[1.0, 2]'];
    const receipt = JSON.parse(cliText(server.url, `${lines.join('\n')}\n`, '--json', 'add-items', 'chat-cli', '--from-json', '-', ...owner));
    assert.deepEqual([receipt.version, receipt.count], [3, 5]);
    assert.deepEqual((await client.sendCommand(['LRANGE', 'session:chat-cli:items', '-2', '-1'])), lines, 'kept as the CLI was given them');
    assert.deepEqual(await repo.getAllItems('chat-cli', { owner: OWNER }), [...ITEMS, { role: 'tool', n: 2n ** 64n + 1n }, [1, 2]]);
    assert.deepEqual(cliJson(server.url, 'pop-item', 'chat-cli'), { id: 'chat-cli', item: [1, 2], version: 4, count: 4 });
    assert.deepEqual(await repo.popItem('chat-cli', { owner: OWNER, expectedVersion: 4 }),
      { id: 'chat-cli', item: { role: 'tool', n: 2n ** 64n + 1n }, version: 5, count: 3 });
    assert.equal(cliText(server.url, '', 'count-items', 'chat-cli').trim(), '3');
  });

  test('the Rust CLI reads owned sessions JS wrote, and its delete removes their items and owner entries', async () => {
    const { id } = await repo.createSession({ model_id: 'm', ...OWNER });
    await repo.appendItems(id, ITEMS, { owner: OWNER });
    const fromRust = cliJson(server.url, 'get', id);
    assert.deepEqual([fromRust.app_name, fromRust.user_id, fromRust.version], ['support-bot', 'alice', 2]);
    assert.equal(cli(server.url, 'delete', id).status, 0);
    await assert.rejects(repo.getItems(id), { kind: 'not_found' });
    assert.deepEqual((await repo.listByOwner('support-bot')).sessions, []);
    assert.deepEqual(await client.sendCommand(['KEYS', '*']), []);
  });
});
