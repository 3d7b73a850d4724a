// Runs the language-neutral scenarios in tests/conformance/ (see its
// README.md for the format) against the JavaScript host and a real Redis,
// with the same rules as the Rust and Python runners.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { SessionError, SessionRepository } from '../src/index.js';
import { REPO, RedisServer } from './helpers.js';

const DIR = `${REPO}tests/conformance/`;
const SCENARIOS = readdirSync(DIR).filter((name) => name.endsWith('.json')).sort();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
// The arguments of each call, all required (as in the Rust and Python runners).
const CALL_ARGUMENTS = {
  create: ['input'], get: ['id'], delete: ['id'], extend_ttl: ['id'], update: ['id', 'changes'],
  list: ['limit', 'offset'], cleanup_expired: [], reindex: [], stats: [],
  append_items: ['id', 'request'], get_items: ['id', 'query'], pop_item: ['id', 'options'],
  clear_items: ['id', 'options'], delete_with: ['id', 'options'], list_by_owner: ['app_name', 'user_id', 'limit'],
};
// The keys a call may leave out: `save` on create (the id), list and
// list_by_owner (the next page token), `page_token` on the lists.
const OPTIONAL_CALL_KEYS = { create: ['save'], list: ['save', 'page_token'], list_by_owner: ['save', 'page_token'] };
// The conversation calls' snake_case document fields as the JS API's
// option names; other keys pass through as they are, for the API to refuse.
const OPTION_NAMES = {
  expected_version: 'expectedVersion', keep_last: 'keepLast', state_delta: 'stateDelta',
  create_if_missing: 'createIfMissing', include_session: 'includeSession', page_token: 'pageToken',
};
const ERROR_KINDS = ['invalid_input', 'not_found', 'conflict', 'data_corrupt', 'backend'];

export class Mismatch extends Error {}
export class MalformedScenario extends Error {}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const show = (value) => JSON.stringify(value);

function checkKeys(obj, allowed, required, what) {
  if (!isObject(obj)) throw new MalformedScenario(`${what} must be an object, got ${show(obj)}`);
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new MalformedScenario(`${what} has the unknown key '${key}'; allowed: ${show(allowed)}`);
  }
  for (const key of required) {
    if (!(key in obj)) throw new MalformedScenario(`${what} lacks the key '${key}'`);
  }
}

function checkStep(step) {
  if (!isObject(step)) throw new MalformedScenario(`a step must be an object, got ${show(step)}`);
  if (('call' in step) === ('redis' in step)) throw new MalformedScenario('a step needs exactly one of "call" and "redis"');
  if ('redis' in step) {
    checkKeys(step, ['redis', 'expect'], ['redis', 'expect'], 'a redis step');
    return;
  }
  const name = step.call;
  if (typeof name !== 'string' || !Object.hasOwn(CALL_ARGUMENTS, name)) throw new MalformedScenario(`unknown call ${show(name)}`);
  const optional = OPTIONAL_CALL_KEYS[name] ?? [];
  const allowed = ['call', 'expect', ...CALL_ARGUMENTS[name], ...optional];
  checkKeys(step, allowed, allowed.filter((key) => !optional.includes(key)), `a ${name} step`);
  const expect = step.expect;
  const keys = isObject(expect) ? Object.keys(expect) : [];
  if (!(keys.length === 1 && (keys[0] === 'ok' || keys[0] === 'error'))) {
    throw new MalformedScenario(`"expect" of a call must be {"ok": ..} or {"error": ..}, got ${show(expect)}`);
  }
  if ('error' in expect) {
    checkKeys(expect.error, ['kind', 'message_contains', 'key', 'field'], ['kind'], 'expect.error');
    if (!ERROR_KINDS.includes(expect.error.kind)) {
      throw new MalformedScenario(`unknown error kind ${show(expect.error.kind)}; known: ${show(ERROR_KINDS)}`);
    }
  }
}

/** A scenario's structure, checked before any of it runs (as `check_scenario`
 * in the Rust and Python runners). */
export function checkScenario(scenario) {
  checkKeys(scenario, ['description', 'settings', 'prefix', 'steps'], ['description', 'steps'], 'the scenario');
  if ('settings' in scenario) checkKeys(scenario.settings, ['session_ttl_seconds', 'grace_seconds'], [], 'settings');
  const steps = scenario.steps;
  if (!(Array.isArray(steps) && steps.length > 0)) throw new MalformedScenario('"steps" must be a non-empty list');
  steps.forEach((step, index) => {
    try {
      checkStep(step);
    } catch (error) {
      if (error instanceof MalformedScenario) {
        throw new MalformedScenario(`step ${index + 1} (numbered from 1): ${error.message}`);
      }
      throw error;
    }
  });
}

function substitute(value, saved) {
  if (typeof value === 'string') {
    return value.replace(/\$\{(\w+)\}/g, (_, name) => {
      if (!Object.hasOwn(saved, name)) throw new MalformedScenario(`\${${name}} was not saved`);
      return saved[name];
    });
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, saved));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]));
  return value;
}

export function match(expected, actual, path = '$') {
  if (isObject(expected)) {
    const keys = Object.keys(expected);
    if (keys.length === 1 && keys[0].startsWith('$')) {
      const [matcher] = keys;
      const argument = expected[matcher];
      if (matcher === '$match') {
        const pattern = { uuid: UUID, timestamp: TIMESTAMP }[argument];
        if (pattern === undefined) throw new Mismatch(`${path}: unknown $match ${show(argument)}`);
        if (!(typeof actual === 'string' && pattern.test(actual))) throw new Mismatch(`${path}: expected a ${argument}, got ${show(actual)}`);
      } else if (matcher === '$between') {
        const [low, high] = argument;
        if (!(typeof actual === 'number' && low <= actual && actual <= high)) {
          throw new Mismatch(`${path}: expected a number in [${low}, ${high}], got ${show(actual)}`);
        }
      } else if (matcher === '$contains') {
        if (!(typeof actual === 'string' && actual.includes(argument))) {
          throw new Mismatch(`${path}: expected a string containing ${show(argument)}, got ${show(actual)}`);
        }
      } else if (matcher === '$any') {
        // anything, null included
      } else if (matcher === '$exact') {
        if (!(isObject(actual) && Object.keys(actual).length === 0)) throw new Mismatch(`${path}: expected an empty object, got ${show(actual)}`);
      } else {
        throw new Mismatch(`${path}: unknown matcher ${matcher}`);
      }
      return;
    }
    if (!isObject(actual)) throw new Mismatch(`${path}: expected an object, got ${show(actual)}`);
    const exact = expected.$exact ?? false;
    for (const [key, value] of Object.entries(expected)) {
      if (key === '$exact') continue;
      if (!Object.hasOwn(actual, key)) throw new Mismatch(`${path}: missing key '${key}' in ${show(actual)}`);
      match(value, actual[key], `${path}.${key}`);
    }
    if (exact) {
      const extra = Object.keys(actual).filter((key) => !Object.hasOwn(expected, key) || key === '$exact').sort();
      if (extra.length > 0) throw new Mismatch(`${path}: unexpected keys ${show(extra)} in ${show(actual)}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      throw new Mismatch(`${path}: expected ${expected.length} items, got ${show(actual)}`);
    }
    expected.forEach((item, i) => match(item, actual[i], `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'boolean' || expected === null || typeof actual === 'boolean') {
    if (expected !== actual) throw new Mismatch(`${path}: expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || Math.abs(expected - actual) > 1e-12) {
      throw new Mismatch(`${path}: expected ${show(expected)}, got ${show(actual)}`);
    }
    return;
  }
  if (expected !== actual) throw new Mismatch(`${path}: expected ${show(expected)}, got ${show(actual)}`);
}

function errorJson(error) {
  const result = { kind: error.kind, message: error.message };
  if (error.kind === 'data_corrupt') {
    // message_contains is checked against the text the WIT case carries.
    Object.assign(result, { key: error.key, field: error.field, session_id: error.sessionId, message: error.detail });
  }
  return result;
}

function jsOptions(document) {
  if (!isObject(document)) return document;
  return Object.fromEntries(Object.entries(document).map(([key, value]) => [OPTION_NAMES[key] ?? key, value]));
}

// get_items with include_session is getConversation (as Python's runner
// does), which has the page's fields but `left_out`: it reads every item
// asked for (a whole read), so none is left out.
async function getItems(repo, id, query) {
  const { includeSession, ...options } = jsOptions(query) ?? {};
  if (includeSession === undefined || includeSession === false) return repo.getItems(id, options);
  if (includeSession !== true) return repo.getItems(id, jsOptions(query)); // refused as the API refuses it
  const { whole, ...conversationOptions } = options; // getConversation always reads whole
  const conversation = await repo.getConversation(id, conversationOptions);
  return { id: conversation.session.id, ...conversation, left_out: 0 };
}

function call(repo, step) {
  switch (step.call) {
    case 'create': return repo.createSession(step.input);
    case 'get': return repo.getSessionOrThrow(step.id);
    case 'update': return repo.updateSession(step.id, step.changes);
    case 'delete': return repo.deleteSession(step.id);
    case 'list': return repo.listSessions(step.limit, step.offset, step.page_token ?? null);
    case 'extend_ttl': return repo.extendSessionTtl(step.id);
    case 'cleanup_expired': return repo.cleanupExpiredSessionsReport();
    case 'reindex': return repo.reindexSessions();
    case 'stats': return repo.stats();
    case 'append_items': {
      const { items, ...options } = isObject(step.request) ? step.request : { items: step.request };
      return repo.appendItems(step.id, items, jsOptions(options));
    }
    case 'get_items': return getItems(repo, step.id, step.query);
    case 'pop_item': return repo.popItem(step.id, jsOptions(step.options));
    case 'clear_items': return repo.clearItems(step.id, jsOptions(step.options));
    case 'delete_with': return repo.deleteSession(step.id, jsOptions(step.options));
    case 'list_by_owner':
      return repo.listByOwner(step.app_name, step.user_id, { limit: step.limit, pageToken: step.page_token ?? null });
    default: throw new Error(`unknown call ${step.call}`);
  }
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A Redis reply in the README's normal form. */
async function redisReply(client, command) {
  const name = String(command[0]).toUpperCase();
  const reply = await client.sendCommand(command.map(String)); // an error reply fails the step
  if (name === 'HGETALL' && Array.isArray(reply)) {
    const object = {};
    for (let i = 0; i < reply.length; i += 2) object[reply[i]] = reply[i + 1];
    return object;
  }
  if ((name === 'SMEMBERS' || name === 'KEYS') && Array.isArray(reply)) return [...reply].sort(byteOrder);
  return reply;
}

export async function runScenario(file, server) {
  const scenario = JSON.parse(readFileSync(`${DIR}${file}`, 'utf8'));
  checkScenario(scenario);
  const settings = scenario.settings ?? {};
  const client = await server.client();
  await client.sendCommand(['FLUSHALL']);
  const repo = new SessionRepository(server.url, {
    prefix: scenario.prefix ?? '',
    ttl: settings.session_ttl_seconds ?? 3600,
    grace: settings.grace_seconds ?? 300,
  });
  const saved = {};
  try {
    for (const [index, rawStep] of scenario.steps.entries()) {
      const step = substitute(rawStep, saved);
      const where = `${file} step ${index + 1}: ${show(rawStep)}`;
      if ('redis' in step) {
        const actual = await redisReply(client, step.redis);
        try {
          match(step.expect, actual);
        } catch (error) {
          if (error instanceof Mismatch) throw new assert.AssertionError({ message: `${where}\n${error.message}` });
          throw error;
        }
        continue;
      }
      const expect = step.expect;
      let result;
      try {
        result = { ok: await call(repo, step) };
      } catch (error) {
        if (!(error instanceof SessionError) || error.kind === 'component') throw error;
        result = { error: errorJson(error) };
      }
      try {
        if ('ok' in expect) {
          match(expect, result);
        } else {
          const { message_contains: contains, ...spec } = expect.error;
          if (!('error' in result)) throw new Mismatch(`expected error ${show(expect.error)}, got ok ${show(result.ok)}`);
          match(spec, result.error, '$.error');
          if (contains !== undefined && !result.error.message.includes(contains)) {
            throw new Mismatch(`error message ${show(result.error.message)} lacks ${show(contains)}`);
          }
        }
      } catch (error) {
        if (error instanceof Mismatch) {
          throw new assert.AssertionError({ message: `${where}\n${error.message}\nactual: ${JSON.stringify(result, null, 1)}` });
        }
        throw error;
      }
      if ('save' in step) {
        // A create saves the session's id, a list its next page token.
        const field = step.call === 'create' ? 'id' : 'next_page_token';
        assert.ok('ok' in result, `${where}: cannot save a ${field} from a failed call`);
        assert.equal(typeof result.ok[field], 'string', `${where}: the result has no ${field}`);
        saved[step.save] = result.ok[field];
      }
    }
  } finally {
    await repo.close();
    await client.close();
  }
}

test('there are scenarios', () => {
  assert.ok(SCENARIOS.length >= 10, `expected the conformance scenarios in ${DIR}`);
});

describe('check_scenario', () => {
  const inline = (step) => ({ description: 'inline', steps: [step] });
  test('well-formed steps pass', () => {
    checkScenario(inline({ call: 'stats', expect: { ok: {} } }));
    checkScenario(inline({ redis: ['GET', 'x'], expect: null }));
    checkScenario(inline({ call: 'create', input: { model_id: 'm' }, save: 'a', expect: { ok: {} } }));
    checkScenario(inline({ call: 'append_items', id: 'x', request: { items: [1] }, expect: { ok: {} } }));
    checkScenario(inline({ call: 'get_items', id: 'x', query: {}, expect: { ok: {} } }));
    for (const name of ['pop_item', 'clear_items', 'delete_with']) {
      checkScenario(inline({ call: name, id: 'x', options: {}, expect: { ok: {} } }));
    }
    checkScenario(inline({ call: 'list_by_owner', app_name: 'a', user_id: '', limit: 10, expect: { ok: {} } }));
    checkScenario(inline({ call: 'list_by_owner', app_name: 'a', user_id: 'u', limit: 1, page_token: 't', save: 'p', expect: { ok: {} } }));
  });
  test('the conversation calls need their arguments and take no others', () => {
    for (const step of [
      { call: 'append_items', id: 'x', expect: { ok: {} } },
      { call: 'append_items', id: 'x', request: {}, options: {}, expect: { ok: {} } },
      { call: 'get_items', id: 'x', expect: { ok: {} } },
      { call: 'pop_item', id: 'x', query: {}, expect: { ok: {} } },
      { call: 'delete_with', id: 'x', expect: { ok: {} } },
      { call: 'list_by_owner', app_name: 'a', user_id: 'u', expect: { ok: {} } },
      { call: 'list_by_owner', app_name: 'a', limit: 1, expect: { ok: {} } },
      { call: 'get_items', id: 'x', query: {}, save: 'a', expect: { ok: {} } },
    ]) {
      assert.throws(() => checkScenario(inline(step)), MalformedScenario, show(step));
    }
  });
  for (const step of [{ call: 'stats' }, { call: 'get', id: 'x' }, { redis: ['GET', 'x'] }]) {
    test(`a step without expect fails: ${show(step)}`, () => {
      assert.throws(() => checkScenario(inline(step)), (e) => e instanceof MalformedScenario && /step 1 .*lacks the key 'expect'/.test(e.message));
    });
  }
  for (const [step, unknown] of [
    [{ call: 'get', id: 'x', expect: { ok: {} }, expected: { ok: {} } }, 'expected'],
    [{ call: 'get', id: 'x', save: 'a', expect: { ok: {} } }, 'save'],
    [{ call: 'stats', id: 'x', expect: { ok: {} } }, 'id'],
    [{ redis: ['GET', 'x'], input: {}, expect: null }, 'input'],
    [{ redis: ['GET', 'x'], save: 'a', expect: null }, 'save'],
  ]) {
    test(`a step with the unknown key '${unknown}' fails`, () => {
      assert.throws(() => checkScenario(inline(step)), (e) => e instanceof MalformedScenario && e.message.includes(`unknown key '${unknown}'`));
    });
  }
  test('other malformed scenarios fail', () => {
    for (const step of [
      { call: 'get', expect: { ok: {} } },
      { call: 'gett', id: 'x', expect: { ok: {} } },
      { call: 'stats', redis: ['GET', 'x'], expect: { ok: {} } },
      { call: 'stats', expect: { okay: {} } },
    ]) {
      assert.throws(() => checkScenario(inline(step)), MalformedScenario);
    }
    assert.throws(() => checkScenario({ description: 'd', steps: [], step: [] }), (e) => e.message.includes("'step'"));
  });
  test('unknown matchers and mismatches fail', () => {
    assert.throws(() => match({ $regex: 'x' }, 'x'), Mismatch);
    assert.throws(() => match({ a: 1, $exact: true }, { a: 1, b: 2 }), Mismatch);
    assert.throws(() => match([1], [1, 2]), Mismatch);
    assert.throws(() => match(1, true), Mismatch);
    assert.throws(() => match(null, 0), Mismatch);
    match(2000, 2000.0);
  });
});

describe('conformance scenarios', () => {
  let server;
  before(async () => { server = await RedisServer.start(); });
  after(async () => { await server?.stop(); });
  for (const file of SCENARIOS) {
    test(file.replace(/\.json$/, ''), () => runScenario(file, server));
  }
});
