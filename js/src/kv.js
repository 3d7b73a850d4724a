// `kv.execute` over Redis: every batch is one EVALSHA of redis/kv_batch.lua
// (see the `kv` interface in wit/sessions.wit). This module knows no op: it
// prefixes the keys, runs the script and hands its reply back as it is.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, createCluster } from 'redis';

const SCRIPT_PATH = new URL('../generated/kv_batch.lua', import.meta.url);
/** Joins the batches of `kv.execute-each`, their keys and their replies. */
export const BATCH_SEPARATOR = '\x1e';

/** A WIT storage-failure, thrown inside this module only. */
export class StorageFailure extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** The URL with any password replaced by `***`. */
export function redactUrl(url) {
  return String(url).replace(/^([a-z]+:\/\/)([^@/]*)@/i, (_, scheme, userinfo) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

let script;
function kvScript() {
  if (script === undefined) {
    const text = readFileSync(SCRIPT_PATH, 'utf8');
    script = { text, sha: createHash('sha1').update(text).digest('hex') };
  }
  return script;
}

/** One Redis server through node-redis. The client reconnects by itself
 * after a restart; while it is down a call fails at once with
 * `unavailable` (no offline queue), and node-redis never resends a command
 * that was in flight when the connection broke, so a write whose outcome
 * is unknown is not replayed. */
export class RedisKv {
  constructor(url, { prefix = '', connectTimeout = 2000, commandTimeout = 5000, cluster = false } = {}) {
    this.prefix = prefix;
    this.url = url;
    const seeds = String(url).split(',').map((seed) => seed.trim()).filter(Boolean);
    this.redactedUrl = seeds.map(redactUrl).join(',');
    /** On a Redis Cluster (several seed URLs, or `cluster: true`). */
    this.isCluster = cluster || seeds.length > 1;
    this.commandTimeout = commandTimeout;
    this.connectTimeout = connectTimeout;
    this.roundTrips = 0;
    this.script = kvScript();
    const options = {
      disableOfflineQueue: true,
      socket: {
        connectTimeout,
        // Keep trying, at most every 500 ms; calls in between fail fast.
        reconnectStrategy: (retries) => Math.min(20 * 2 ** Math.min(retries, 5), 500),
      },
    };
    if (this.isCluster) {
      // node-redis keeps the slot map and a connection per primary, and
      // follows MOVED and ASK (the script did not run: safe to resend). It
      // does not resend after a lost connection or a timeout, so a batch
      // whose outcome is unknown is never replayed.
      const { username, password } = new URL(seeds[0]);
      this.client = createCluster({
        rootNodes: seeds.map((seed) => ({ url: seed })),
        defaults: { ...options, ...(password ? { username: decodeURIComponent(username) || undefined, password: decodeURIComponent(password) } : {}) },
      });
    } else {
      this.client = createClient({ url, ...options });
    }
    this.lastError = null;
    // Without a listener node-redis's 'error' events would crash the process.
    this.client.on('error', (error) => {
      this.lastError = error;
      this.failing = true;
    });
    this.client.on('ready', () => { this.failing = false; });
    this.failing = false;
    this.connecting = null;
    this.closed = false;
  }

  /** Resolves once connected; StorageFailure when it cannot within connectTimeout. */
  async ready() {
    if (this.client.isReady) return;
    if (this.closed) throw new StorageFailure('unavailable', 'the repository is closed');
    if (this.connecting === null) {
      this.connecting = this.client.connect().catch((error) => { this.lastError = error; });
    } else if (this.failing) {
      // Its last attempt failed: fail now, as a fresh connection would; the
      // client keeps reconnecting on its own (at most every 500 ms).
      throw new StorageFailure('unavailable', `Redis is unavailable at ${this.redactedUrl}: ${describe(this.lastError)}`);
    }
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(resolve, this.connectTimeout); });
    // The first connection attempt, whichever way it ends, or the connect timeout.
    const waits = [this.connecting, timeout, this.nextAttempt()];
    await Promise.race(waits);
    clearTimeout(timer);
    if (!this.client.isReady) {
      throw new StorageFailure('unavailable', `Redis is unavailable at ${this.redactedUrl}: ${describe(this.lastError)}`);
    }
    this.everReady = true;
  }

  nextAttempt() {
    if (this.waiting == null) {
      this.waiting = new Promise((resolve) => {
        const done = () => {
          this.client.off('ready', done);
          this.client.off('error', done);
          this.waiting = null;
          resolve();
        };
        this.client.on('ready', done);
        this.client.on('error', done);
      });
    }
    return this.waiting;
  }

  get isReady() {
    return this.isCluster ? this.clusterReady === true : this.client.isReady;
  }

  async clusterConnect() {
    if (this.clusterConnecting == null) {
      this.clusterConnecting = this.client.connect().then(() => { this.clusterReady = true; }, (error) => {
        this.lastError = error;
        this.clusterConnecting = null;
      });
    }
    await this.clusterConnecting;
    if (!this.clusterReady) {
      throw new StorageFailure('unavailable', `cannot reach the Redis Cluster at ${this.redactedUrl}: ${describe(this.lastError)}`);
    }
  }

  /** `kv.execute`: the script's reply; StorageFailure when Redis did not run it. */
  async execute(keys, batch) {
    const names = keys === '' ? [] : keys.split('\n');
    const args = new Array(names.length + 5);
    args[0] = 'EVALSHA';
    args[1] = this.script.sha;
    args[2] = String(names.length);
    const prefix = this.prefix;
    for (let i = 0; i < names.length; i++) args[3 + i] = prefix + names[i];
    args[names.length + 3] = prefix;
    args[names.length + 4] = batch;
    let send;
    if (this.isCluster) {
      if (!this.clusterReady) {
        try { await this.clusterConnect(); } catch (error) { throw this.failure(error); }
      }
      // To the primary of the first key's slot (a batch's keys share it).
      const first = names.length > 0 ? args[3] : undefined;
      send = (command) => this.client.sendCommand(first, false, command, { timeout: this.commandTimeout });
    } else {
      if (!this.client.isReady) await this.ready();
      send = (command) => this.client.sendCommand(command, { timeout: this.commandTimeout });
    }
    this.roundTrips++;
    let reply;
    try {
      reply = await send(args);
    } catch (error) {
      if (isNoScript(error)) {
        // A new or restarted server (or a newly promoted primary: the
        // script cache is not replicated) has not seen the script; it did
        // not run. Load it there and send the batch again.
        try {
          await send(['SCRIPT', 'LOAD', this.script.text]);
          reply = await send(args);
        } catch (again) {
          throw this.failure(again);
        }
      } else {
        throw this.failure(error);
      }
    }
    if (typeof reply === 'string') return reply;
    if (Buffer.isBuffer(reply)) return reply.toString('utf8');
    throw new StorageFailure('other', `unexpected reply from the kv batch script: ${JSON.stringify(reply)}`);
  }

  /** `kv.execute-each`: the batches at once, replies joined in order. */
  async executeEach(keys, batches) {
    const keyGroups = keys.split(BATCH_SEPARATOR);
    const texts = batches.split(BATCH_SEPARATOR);
    if (keyGroups.length !== texts.length) {
      throw new StorageFailure('other', `keys for ${keyGroups.length} batches and ${texts.length} batches`);
    }
    const replies = await Promise.all(texts.map((text, i) => this.execute(keyGroups[i], text)));
    return replies.join(BATCH_SEPARATOR);
  }

  failure(error) {
    if (error instanceof StorageFailure) return error;
    const name = error?.constructor?.name ?? '';
    if (name === 'TimeoutError' || name === 'SocketTimeoutError' || name === 'ConnectionTimeoutError') {
      return new StorageFailure('timeout', `Redis did not answer in time at ${this.redactedUrl}: ${describe(error)}`);
    }
    if (name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError') {
      return new StorageFailure('other', `Redis refused the batch at ${this.redactedUrl}: ${describe(error)}`);
    }
    return new StorageFailure('unavailable', `Redis is unavailable at ${this.redactedUrl}: ${describe(error)}`);
  }

  /** Milliseconds one PING takes. */
  async ping() {
    try {
      const started = performance.now();
      if (this.isCluster) {
        await this.clusterConnect();
        await this.client.sendCommand(undefined, true, ['PING'], { timeout: this.commandTimeout });
        return performance.now() - started;
      }
      await this.ready();
      await this.client.sendCommand(['PING'], { timeout: this.commandTimeout });
      return performance.now() - started;
    } catch (error) {
      throw this.failure(error);
    }
  }

  async close() {
    this.closed = true;
    try {
      if (this.client.isOpen || this.clusterReady) await this.client.close();
      else this.client.destroy();
    } catch {
      try { this.client.destroy(); } catch { /* already gone */ }
    }
  }
}

function isNoScript(error) {
  return typeof error?.message === 'string' && error.message.startsWith('NOSCRIPT');
}

function describe(error) {
  if (error == null) return 'no connection';
  return `${error.constructor?.name ?? 'Error'}: ${redactUrl(error.message ?? String(error))}`;
}
