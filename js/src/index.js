// agent-sessions for Node.js: the session component (transpiled by jco,
// JSPI) with its `kv` import bound to Redis through node-redis.
import { BackendError, ComponentError, InvalidInputError, SessionError, SessionNotFoundError } from './errors.js';
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

  /** Creates a session with a fresh UUID v4 from a session-create object. */
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

  /** Removes every key of the session; true when a live session was deleted. */
  async deleteSession(id) {
    return this.#call('delete', sessionId(id));
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


