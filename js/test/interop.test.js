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
repo = SessionRepository(sys.argv[1], backend="wasmtime-py")
method, args = sys.argv[2], json.loads(sys.argv[3])
result = getattr(repo, method)(*args)
print(json.dumps(dataclasses.asdict(result) if dataclasses.is_dataclass(result) else result))
repo.close()
`;

function py(url, method, ...args) {
  const done = spawnSync(python(), ['-c', PY, url, method, JSON.stringify(args)], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(done.status, 0, `python ${method} exited ${done.status}: ${done.stderr}`);
  return JSON.parse(done.stdout);
}

const withoutTtl = (session) => ({ ...session, expires_in_seconds: null });

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
});
