// agent-sessions for Node.js: the session component (transpiled by jco,
// JSPI) with its `kv` import bound to Redis through node-redis.
import {
  BackendError, InvalidInputError, SessionNotFoundError, StorageFailure,
} from './errors.js';
import { RedisKv } from './kv.js';
import { RedisConnection } from './redis-client.js';
import { ComponentRuntime } from './runtime.js';

export {
  BackendError, ComponentError, ConflictError, DataCorruptError, InvalidInputError, SessionError,
  SessionNotFoundError,
} from './errors.js';

export const DEFAULT_TTL_SECONDS = 3600;
export const DEFAULT_GRACE_SECONDS = 300;
export const DEFAULT_BATCH_SIZE = 250;
export const DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024;
/** Loop iterations the guest may run between two Redis round trips (a tight loop burns it in about 6 s on a 2024 x86 core). */
export const DEFAULT_FUEL = 2 ** 31 - 1;
export const DEFAULT_POOL_SIZE = 8;
/** The sharded layout's shard count on a Redis Cluster unless chosen. */
export const DEFAULT_CLUSTER_SHARDS = 64;
const U32_MAX = 2 ** 32 - 1;

function wholeNumber(name, value, least, most = Number.MAX_SAFE_INTEGER) {
  if (!Number.isSafeInteger(value) || value < least || value > most) {
    throw new InvalidInputError(`${name} must be a whole number from ${least} to ${most}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function sessionId(value) {
  if (typeof value !== 'string') {
    throw new InvalidInputError(`a session id must be a string, not ${value === null ? 'null' : typeof value}`);
  }
  return value;
}

function documentText(value, what) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(`${what} must be an object with the document's snake_case fields`);
  }
  for (const [name, item] of Object.entries(value)) {
    if (typeof item === 'number' && !Number.isFinite(item)) {
      throw new InvalidInputError(`${what}: ${name} must be a finite number`);
    }
    if (typeof item === 'bigint') throw new InvalidInputError(`${what}: ${name} must be a number, not a BigInt`);
  }
  return JSON.stringify(value);
}

// ------------------------------------------------------- conversation items
// Items and state values are any JSON; the component checks them and keeps
// each item as the text sent, so what JSON.stringify writes is what is
// stored. A BigInt is written as its digits, and an integer beyond 2^53
// read back is a BigInt: such numbers survive byte for byte.

/** A run of 16 digits: only a text with one can hold an integer past 2^53. */
const LONG_DIGITS = /\d{16}/;

function writeValue(key, value) {
  if (typeof value === 'bigint') return JSON.rawJSON(value.toString());
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new InvalidInputError(`${value} is not a JSON number (only finite numbers are)`);
  }
  return value;
}

/** A document's JSON text: fields left undefined are absent. */
function requestText(document, what) {
  try {
    return JSON.stringify(document, writeValue);
  } catch (error) {
    throw new InvalidInputError(`${what}: ${error?.message ?? error}`);
  }
}

function readValue(key, value, context) {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? '')) {
    return BigInt(context.source);
  }
  return value;
}

/** A document the component returned, integers past 2^53 as BigInt. */
function parseDocument(text) {
  return LONG_DIGITS.test(text) ? JSON.parse(text, readValue) : JSON.parse(text);
}

function callOptions(value, allowed, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(`${what}: the options must be an object (${allowed.join(', ')})`);
  }
  const extra = Object.keys(value).filter((name) => !allowed.includes(name));
  if (extra.length > 0) {
    throw new InvalidInputError(`${what}: unknown option(s): ${extra.join(', ')}; known: ${allowed.join(', ')}`);
  }
  return value;
}

/** `{app_name, user_id}` (or `[appName, userId]`) as the documents' owner. */
function ownerDocument(value) {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.length === 2) return { app_name: value[0], user_id: value[1] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError('owner must be an object {app_name, user_id}');
  }
  const extra = Object.keys(value).filter((name) => name !== 'app_name' && name !== 'user_id');
  if (extra.length > 0) {
    throw new InvalidInputError(`owner has the unknown key(s) ${extra.join(', ')}; an owner is {app_name, user_id}`);
  }
  return { app_name: value.app_name, user_id: value.user_id };
}

function plainObject(value, what) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError(`${what} must be an object`);
  return value;
}

function itemOptionsText(options, what) {
  const { expectedVersion, owner } = callOptions(options, ['expectedVersion', 'owner'], what);
  return requestText({ expected_version: expectedVersion ?? undefined, owner: ownerDocument(owner) }, what);
}

function itemsQueryText({ last, start, stop, owner, includeSession, whole }, what) {
  return requestText({
    last: last ?? undefined, start: start ?? undefined, stop: stop ?? undefined, owner: ownerDocument(owner),
    include_session: includeSession || undefined, whole: whole || undefined,
  }, what);
}

/** The get-items parameters of a read of every item the query selects, in
 * one call: the component reads it page by page at one version of the
 * session (starting over if it changes; ConflictError if it kept changing). */
const wholeRead = (what, includeSession) => (id, options) => {
  const { last, owner } = callOptions(options, ['last', 'owner'], what);
  return [sessionId(id), itemsQueryText({ last, owner, includeSession, whole: true }, what)];
};

/** A read of no item: only the count. */
function countArguments(id, options) {
  const { owner } = callOptions(options, ['owner'], 'countItems');
  return [sessionId(id), itemsQueryText({ last: 0, owner }, 'countItems')];
}

/** A conversation: the session, its state and its items, from a whole read's page. */
function conversation(text) {
  const { session, state, items, total, first_index, version, updated_at_ms } = parseDocument(text);
  return { session, state, items, total, first_index, version, updated_at_ms };
}

function listArguments(limit = 10, offset = 0, pageToken = null) {
  wholeNumber('limit', limit, 0, U32_MAX);
  wholeNumber('offset', offset, 0);
  if (pageToken !== null && pageToken !== undefined && typeof pageToken !== 'string') {
    throw new InvalidInputError('pageToken must be a string from next_page_token');
  }
  return [limit, BigInt(offset), pageToken ?? ''];
}

function appendArguments(id, items, options) {
  const { expectedVersion, keepLast, owner, stateDelta, createIfMissing } = callOptions(options,
    ['expectedVersion', 'keepLast', 'owner', 'stateDelta', 'createIfMissing'], 'appendItems');
  if (!Array.isArray(items)) throw new InvalidInputError('items must be an array of JSON values');
  const bad = items.findIndex((item) => item === undefined || typeof item === 'function' || typeof item === 'symbol');
  if (bad >= 0) throw new InvalidInputError(`items[${bad}] is not a JSON value`);
  return [sessionId(id), requestText({
    items,
    expected_version: expectedVersion ?? undefined,
    keep_last: keepLast ?? undefined,
    owner: ownerDocument(owner),
    state_delta: plainObject(stateDelta, 'stateDelta'),
    create_if_missing: plainObject(createIfMissing, 'createIfMissing'),
  }, 'appendItems')];
}

function ownerListArguments(appName, userId = null, options) {
  const { limit = 100, pageToken = null } = callOptions(options, ['limit', 'pageToken'], 'listByOwner');
  if (typeof appName !== 'string') throw new InvalidInputError('appName must be a string');
  if (userId !== null && userId !== undefined && typeof userId !== 'string') {
    throw new InvalidInputError('userId must be a string, or null for every user of the app');
  }
  wholeNumber('limit', limit, 0, U32_MAX);
  if (pageToken !== null && pageToken !== undefined && typeof pageToken !== 'string') {
    throw new InvalidInputError('pageToken must be a string from next_page_token');
  }
  return [appName, userId ?? '', limit, pageToken ?? ''];
}

const withId = (id) => [sessionId(id)];
const withOptions = (what) => (id, options) => [sessionId(id), itemOptionsText(options, what)];
const GET_ITEMS_OPTIONS = ['last', 'start', 'stop', 'owner', 'whole'];

/** The typed methods that are one export call each: method name -> [the
 * export as wit/sessions.wit names it, the export's parameters from the
 * method's arguments, how its result is read (default: as it is)]. Any
 * other export is reachable through `call`; index.d.ts types each method. */
const OPERATIONS = {
  createSession: ['create', (data) => [documentText(data, 'sessionData')], JSON.parse],
  getSessionOrThrow: ['get', withId, JSON.parse],
  updateSession: ['update', (id, data) => [sessionId(id), documentText(data, 'updateData')], JSON.parse],
  listSessions: ['list', listArguments, JSON.parse],
  extendSessionTtl: ['extend-ttl', withId],
  cleanupExpiredSessionsReport: ['cleanup-expired', () => [], JSON.parse],
  reindexSessions: ['reindex', () => [], Number],
  appendItems: ['append-items', appendArguments, parseDocument],
  getItems: ['get-items', (id, options) => [sessionId(id),
    itemsQueryText(callOptions(options, GET_ITEMS_OPTIONS, 'getItems'), 'getItems')], parseDocument],
  getAllItems: ['get-items', wholeRead('getAllItems', false), (text) => parseDocument(text).items],
  getConversation: ['get-items', wholeRead('getConversation', true), conversation],
  countItems: ['get-items', countArguments, (text) => JSON.parse(text).total],
  popItem: ['pop-item', withOptions('popItem'), parseDocument],
  clearItems: ['clear-items', withOptions('clearItems'), parseDocument],
  listByOwner: ['list-by-owner', ownerListArguments, (text) => {
    const page = parseDocument(text);
    return { ...page, next_page_token: page.next_page_token ?? null };
  }],
};

/** The session repository of the design document, backed by Redis.
 *
 * `new SessionRepository(url, options)`; nothing connects until the first
 * call. Options: `prefix` (''), `ttl` (3600 s), `grace` (300 s),
 * `batchSize` (250), `shards` (0: the document's layout), `poolSize`
 * (instances, i.e. calls in flight, 8), `memoryLimit` (bytes per instance,
 * 64 MiB), `fuel` (loop iterations the guest may run between two Redis
 * round trips, 2^31-1: a looping guest is stopped), `connectTimeout` and `commandTimeout`
 * (seconds, 2 and 5), `component` ('guest', or a `jco transpile` output
 * directory). Results are plain objects with the document's snake_case
 * fields (schema/sessions.schema.json); errors are SessionError subclasses.
 * The methods of OPERATIONS above are defined after the class. */
export class SessionRepository {
  constructor(redisUrl = 'redis://127.0.0.1:6379/0', options = {}) {
    let {
      prefix = '', ttl = DEFAULT_TTL_SECONDS, grace = DEFAULT_GRACE_SECONDS, batchSize = DEFAULT_BATCH_SIZE,
      shards, cluster = false, poolSize = DEFAULT_POOL_SIZE, memoryLimit = DEFAULT_MEMORY_LIMIT,
      fuel = DEFAULT_FUEL, connectTimeout = 2, commandTimeout = 5, component, ...unknown
    } = options;
    const extra = Object.keys(unknown);
    if (extra.length > 0) throw new InvalidInputError(`unknown option(s): ${extra.join(', ')}`);
    if (typeof prefix !== 'string') throw new InvalidInputError('prefix must be a string');
    wholeNumber('ttl', ttl, 1);
    wholeNumber('grace', grace, 0);
    wholeNumber('batchSize', batchSize, 1, U32_MAX);
    if (typeof redisUrl !== 'string' || redisUrl.trim() === '') throw new InvalidInputError('redisUrl must be a Redis URL');
    const connection = new RedisConnection(redisUrl, {
      connectTimeout: connectTimeout * 1000, commandTimeout: commandTimeout * 1000, cluster,
    });
    // Default: the document's layout on one server, 64 shards on a cluster,
    // where only the sharded layout works (a batch's keys must share a slot).
    if (shards === undefined) shards = connection.isCluster ? DEFAULT_CLUSTER_SHARDS : 0;
    wholeNumber('shards', shards, 0, U32_MAX);
    wholeNumber('poolSize', poolSize, 1, 1024);
    wholeNumber('memoryLimit', memoryLimit, 1 << 20);
    wholeNumber('fuel', fuel, 1, 2 ** 31 - 1);
    if (connection.isCluster && shards === 0) {
      throw new InvalidInputError(`${connection.redactedUrl} is a Redis Cluster, where only the sharded layout works `
        + `(a batch's keys must share a slot); choose a shard count (default ${DEFAULT_CLUSTER_SHARDS})`);
    }
    this.kv = new RedisKv(connection, prefix);
    this.prefix = prefix;
    this.ttl = ttl;
    this.grace = grace;
    this.batchSize = batchSize;
    this.shards = shards;
    this.runtime = new ComponentRuntime({
      component,
      kv: this.kv,
      settings: { sessionTtlSeconds: BigInt(ttl), graceSeconds: BigInt(grace), batchSize, shards },
      memoryLimit,
      fuel,
      poolSize,
    });
    this.readyPromise = null;
    this.closed = false;
  }

  /** Where sessions are kept (password redacted). */
  get storage() { return this.kv.redactedUrl; }

  /** Storage batches sent so far (one round trip each). */
  get roundTrips() { return this.kv.roundTrips; }

  // Before the first operation: check the key layout recorded in Redis
  // against `shards` (once; retried after a failure).
  async #ready() {
    if (this.readyPromise === null) {
      this.readyPromise = this.runtime.call('check-layout').catch((error) => {
        this.readyPromise = null;
        throw error;
      });
    }
    return this.readyPromise;
  }

  /** Calls the component's `repository` export `name` (as wit/sessions.wit
   * spells it, e.g. 'extend-ttl') with its parameters as jco takes them
   * (strings, numbers, BigInt for u64, documents as JSON text) and returns
   * its ok value as it is (documents as JSON text); its error case is
   * thrown as a SessionError. Reaches every export, typed method or not. */
  async call(name, ...args) {
    if (this.closed) throw new BackendError('the repository is closed', 'unavailable');
    if (this.readyPromise === null || this.readyPromise.settled !== true) {
      await this.#ready();
      this.readyPromise.settled = true;
    }
    return this.runtime.call(name, ...args);
  }

  /** The live session, or null when there is none. */
  async getSession(id) {
    try {
      return await this.getSessionOrThrow(id);
    } catch (error) {
      if (error instanceof SessionNotFoundError) return null;
      throw error;
    }
  }

  /** Removes every key of the session; true when a live session was deleted.
   * With `{owner, expectedVersion}`, only if the session has that owner
   * (else false, as for no session) and version (else ConflictError). */
  async deleteSession(id, options) {
    const { owner, expectedVersion } = callOptions(options, ['owner', 'expectedVersion'], 'deleteSession');
    if ((owner ?? undefined) === undefined && (expectedVersion ?? undefined) === undefined) {
      return this.call('delete', sessionId(id));
    }
    return this.call('delete-with', sessionId(id), itemOptionsText(options, 'deleteSession'));
  }

  /** Removes every session whose expiry key is gone; returns how many. */
  async cleanupExpiredSessions() {
    return (await this.cleanupExpiredSessionsReport()).removed;
  }

  /** Counts sessions and inconsistencies over the keyspace in bounded steps. */
  async stats(progress) {
    let cursor = '', soFar = '';
    for (;;) {
      const page = JSON.parse(await this.call('stats', cursor, soFar));
      cursor = page.cursor;
      soFar = JSON.stringify(page.stats);
      if (progress) progress(page.stats);
      if (page.done) return page.stats;
    }
  }

  /** Milliseconds one Redis PING takes; BackendError when Redis is down. */
  async ping() {
    try {
      return await this.kv.ping();
    } catch (error) {
      if (error instanceof StorageFailure) throw new BackendError(error.message, error.kind);
      throw new BackendError(`Redis is unavailable at ${this.kv.redactedUrl}: ${error?.message ?? error}`, 'unavailable');
    }
  }

  /** Closes the Redis connection; later calls fail with BackendError. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.runtime.close();
    await this.kv.close();
  }
}

for (const [method, [name, parameters, read = (result) => result]] of Object.entries(OPERATIONS)) {
  const { [method]: value } = { async [method](...args) { return read(await this.call(name, ...parameters(...args))); } };
  Object.defineProperty(SessionRepository.prototype, method, { value, writable: true, configurable: true });
}
