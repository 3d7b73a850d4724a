// agent-sessions for Node.js: the session component (transpiled by jco,
// JSPI) with its `kv` import bound to Redis through node-redis.
import {
  BackendError, ComponentError, ConflictError, InvalidInputError, SessionError, SessionNotFoundError,
} from './errors.js';
import { RedisKv, StorageFailure } from './kv.js';
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

/** Items one read returns at most; longer histories are read in pages. */
const ITEMS_PER_READ = 1000;
/** Times a paged read starts over when the session changed between pages. */
const READ_ATTEMPTS = 3;
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

function itemsQueryText({ last, start, stop, owner, includeSession }, what) {
  return requestText({
    last: last ?? undefined, start: start ?? undefined, stop: stop ?? undefined, owner: ownerDocument(owner),
    include_session: includeSession || undefined,
  }, what);
}

/** The next page of older items to read: up to 1000 before `first`. */
function olderRange(wantedStart, first) {
  return { start: Math.max(wantedStart, first - ITEMS_PER_READ), stop: first - 1 };
}

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
 * fields (schema/sessions.schema.json); errors are SessionError subclasses. */
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
    const isCluster = cluster === true || redisUrl.split(',').filter((seed) => seed.trim() !== '').length > 1;
    // Default: the document's layout on one server, 64 shards on a cluster,
    // where only the sharded layout works (a batch's keys must share a slot).
    if (shards === undefined) shards = isCluster ? DEFAULT_CLUSTER_SHARDS : 0;
    wholeNumber('shards', shards, 0, U32_MAX);
    wholeNumber('poolSize', poolSize, 1, 1024);
    wholeNumber('memoryLimit', memoryLimit, 1 << 20);
    wholeNumber('fuel', fuel, 1, 2 ** 31 - 1);
    this.kv = new RedisKv(redisUrl, {
      prefix, connectTimeout: connectTimeout * 1000, commandTimeout: commandTimeout * 1000, cluster,
    });
    if (isCluster && shards === 0) {
      throw new InvalidInputError(`${this.kv.redactedUrl} is a Redis Cluster, where only the sharded layout works `
        + `(a batch's keys must share a slot); choose a shard count (default ${DEFAULT_CLUSTER_SHARDS})`);
    }
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
      this.readyPromise = this.runtime.call('checkLayout').catch((error) => {
        this.readyPromise = null;
        throw error;
      });
    }
    return this.readyPromise;
  }

  async #call(name, ...args) {
    if (this.closed) throw new BackendError('the repository is closed', 'unavailable');
    if (this.readyPromise === null || this.readyPromise.settled !== true) {
      await this.#ready();
      this.readyPromise.settled = true;
    }
    return this.runtime.call(name, ...args);
  }

  /** Creates a session from a session-create object, with a fresh UUID v4
   * or the caller's `id` (see SessionCreate.id in index.d.ts): ConflictError
   * when a live session has that id, InvalidInputError for a malformed one. */
  async createSession(sessionData) {
    return JSON.parse(await this.#call('create', documentText(sessionData, 'sessionData')));
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

  /** Like getSession, but throws SessionNotFoundError. */
  async getSessionOrThrow(id) {
    return JSON.parse(await this.#call('get', sessionId(id)));
  }

  /** Applies a session-update object; SessionNotFoundError, ConflictError. */
  async updateSession(id, updateData) {
    return JSON.parse(await this.#call('update', sessionId(id), documentText(updateData, 'updateData')));
  }

  /** Removes every key of the session; true when a live session was deleted.
   * With `{owner, expectedVersion}`, only if the session has that owner
   * (else false, as for no session) and version (else ConflictError). */
  async deleteSession(id, options) {
    const { owner, expectedVersion } = callOptions(options, ['owner', 'expectedVersion'], 'deleteSession');
    if ((owner ?? undefined) === undefined && (expectedVersion ?? undefined) === undefined) {
      return this.#call('delete', sessionId(id));
    }
    return this.#call('deleteWith', sessionId(id), itemOptionsText(options, 'deleteSession'));
  }

  /** A page, newest first: `{sessions, total, limit, offset, next_page_token, corrupt}`. */
  async listSessions(limit = 10, offset = 0, pageToken = null) {
    wholeNumber('limit', limit, 0, U32_MAX);
    wholeNumber('offset', offset, 0);
    if (pageToken !== null && pageToken !== undefined && typeof pageToken !== 'string') {
      throw new InvalidInputError('pageToken must be a string from next_page_token');
    }
    return JSON.parse(await this.#call('list', limit, BigInt(offset), pageToken ?? ''));
  }

  /** Resets every TTL and last_activity; false if the session is gone. */
  async extendSessionTtl(id) {
    return this.#call('extendTtl', sessionId(id));
  }

  /** Removes every session whose expiry key is gone; returns how many. */
  async cleanupExpiredSessions() {
    return (await this.cleanupExpiredSessionsReport()).removed;
  }

  /** Like cleanupExpiredSessions: `{removed, skipped, problems}`. */
  async cleanupExpiredSessionsReport() {
    return JSON.parse(await this.#call('cleanupExpired'));
  }

  /** Adds live sessions another service wrote to the list index; how many. */
  async reindexSessions() {
    return Number(await this.#call('reindex'));
  }

  /** Counts sessions and inconsistencies over the keyspace in bounded steps. */
  async stats(progress) {
    let cursor = '', soFar = '';
    for (;;) {
      const page = JSON.parse(await this.#call('stats', cursor, soFar));
      cursor = page.cursor;
      soFar = JSON.stringify(page.stats);
      if (progress) progress(page.stats);
      if (page.done) return page.stats;
    }
  }

  // -- conversation items, ownership and state

  /** Appends `items` (1 to 1000 JSON values) to the session's conversation
   * in one atomic step, with `stateDelta` applied in the same step;
   * refreshes its TTLs and bumps its version. Only while the session is
   * alive (SessionNotFoundError), with `owner` if given, at
   * `expectedVersion` if given (ConflictError). `keepLast` keeps only the
   * newest N items; without it a session holds at most 10,000.
   * `createIfMissing` (a session-create object) creates the session first
   * if there is none: concurrent first uses make one session. Returns the
   * receipt `{id, version, count, updated_at, updated_at_ms, created}`. */
  async appendItems(id, items, options) {
    const { expectedVersion, keepLast, owner, stateDelta, createIfMissing } = callOptions(options,
      ['expectedVersion', 'keepLast', 'owner', 'stateDelta', 'createIfMissing'], 'appendItems');
    if (!Array.isArray(items)) throw new InvalidInputError('items must be an array of JSON values');
    const bad = items.findIndex((item) => item === undefined || typeof item === 'function' || typeof item === 'symbol');
    if (bad >= 0) throw new InvalidInputError(`items[${bad}] is not a JSON value`);
    const request = requestText({
      items,
      expected_version: expectedVersion ?? undefined,
      keep_last: keepLast ?? undefined,
      owner: ownerDocument(owner),
      state_delta: plainObject(stateDelta, 'stateDelta'),
      create_if_missing: plainObject(createIfMissing, 'createIfMissing'),
    }, 'appendItems');
    return parseDocument(await this.#call('appendItems', sessionId(id), request));
  }

  /** One read of items, oldest first: the newest `last` (default all), or
   * positions `start`..`stop`, both included (0 the oldest). One read
   * returns at most 1000 items and 4 MiB; `left_out` says how many older
   * ones of the range it left out (getAllItems reads them too). */
  async getItems(id, options) {
    const query = callOptions(options, ['last', 'start', 'stop', 'owner'], 'getItems');
    return parseDocument(await this.#call('getItems', sessionId(id), itemsQueryText(query, 'getItems')));
  }

  /** The newest `last` items (default all), oldest first, in as many reads
   * as they need, consistent: a session written between the reads is read
   * again (ConflictError if it kept changing). */
  async getAllItems(id, options) {
    const { last, owner } = callOptions(options, ['last', 'owner'], 'getAllItems');
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const page = await this.getItems(id, { last, owner });
      const older = await this.#olderItems(id, owner, page);
      if (older !== null) return [...older, ...page.items];
    }
    throw new ConflictError(`session ${id} kept changing while its items were read`);
  }

  // The items of `page`'s range that it left out, oldest first; null when
  // the session changed between the reads.
  async #olderItems(id, owner, page) {
    const wantedStart = page.first_index - page.left_out;
    let first = page.first_index;
    const pages = [];
    while (first > wantedStart) {
      const older = await this.getItems(id, { ...olderRange(wantedStart, first), owner });
      if (older.version !== page.version) return null;
      pages.unshift(older.items);
      first = older.first_index;
    }
    return pages.flat();
  }

  /** How many items the session holds. */
  async countItems(id, options) {
    const { owner } = callOptions(options, ['owner'], 'countItems');
    return (await this.getItems(id, { last: 0, owner })).total;
  }

  /** Removes and returns the newest item: `{id, item, version, count}`,
   * `item` null (nothing written) when there is none. */
  async popItem(id, options) {
    return parseDocument(await this.#call('popItem', sessionId(id), itemOptionsText(options, 'popItem')));
  }

  /** Removes every item; the session, its configuration and state stay. A receipt. */
  async clearItems(id, options) {
    return parseDocument(await this.#call('clearItems', sessionId(id), itemOptionsText(options, 'clearItems')));
  }

  /** The session, its state (with its app's and user's under `app:` and
   * `user:`) and its newest `last` items (default all):
   * `{session, state, items, total, first_index, version, updated_at_ms}`. */
  async getConversation(id, options) {
    const { last, owner } = callOptions(options, ['last', 'owner'], 'getConversation');
    const query = itemsQueryText({ last, owner, includeSession: true }, 'getConversation');
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const page = parseDocument(await this.#call('getItems', sessionId(id), query));
      const older = await this.#olderItems(id, owner, page);
      if (older === null) continue;
      return {
        session: page.session,
        state: page.state,
        items: [...older, ...page.items],
        total: page.total,
        first_index: page.first_index - page.left_out,
        version: page.version,
        updated_at_ms: page.updated_at_ms,
      };
    }
    throw new ConflictError(`session ${id} kept changing while its items were read`);
  }

  /** Sessions of `userId` of `appName` (every user of the app when null),
   * newest-updated first, `limit` (1 to 1000, default 100) per page:
   * `{sessions, app_state, user_states, next_page_token, corrupt}`. */
  async listByOwner(appName, userId = null, options) {
    const { limit = 100, pageToken = null } = callOptions(options, ['limit', 'pageToken'], 'listByOwner');
    if (typeof appName !== 'string') throw new InvalidInputError('appName must be a string');
    if (userId !== null && userId !== undefined && typeof userId !== 'string') {
      throw new InvalidInputError('userId must be a string, or null for every user of the app');
    }
    wholeNumber('limit', limit, 0, U32_MAX);
    if (pageToken !== null && pageToken !== undefined && typeof pageToken !== 'string') {
      throw new InvalidInputError('pageToken must be a string from next_page_token');
    }
    const page = parseDocument(await this.#call('listByOwner', appName, userId ?? '', limit, pageToken ?? ''));
    return { ...page, next_page_token: page.next_page_token ?? null };
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


