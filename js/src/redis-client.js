// The connection under the kv glue: a node-redis client for one server, or
// its cluster client for several seed URLs, built from the repository's
// options and connected on first use. Reconnecting, the slot map and
// MOVED/ASK are node-redis's.
import { createClient, createCluster } from 'redis';
import { StorageFailure } from './errors.js';

/** The URL with any password replaced by `***`. */
export function redactUrl(url) {
  return String(url).replace(/^([a-z]+:\/\/)([^@/]*)@/i, (_, scheme, userinfo) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

/** An error as a message can show it: its class and message, passwords redacted. */
export function describe(error) {
  if (error == null) return 'no connection';
  return `${error.constructor?.name ?? 'Error'}: ${redactUrl(error.message ?? String(error))}`;
}

/** Redis through node-redis. While the server is down a command fails at
 * once (no offline queue) and the client keeps reconnecting, at most every
 * 500 ms. node-redis never resends a command that was in flight when the
 * connection broke or timed out, so a write whose outcome is unknown is
 * not replayed; a cluster redirect (MOVED, ASK: the script did not run) is
 * followed. */
export class RedisConnection {
  constructor(url, { connectTimeout = 2000, commandTimeout = 5000, cluster = false } = {}) {
    const seeds = String(url).split(',').map((seed) => seed.trim()).filter(Boolean);
    this.redactedUrl = seeds.map(redactUrl).join(',');
    this.isCluster = cluster || seeds.length > 1;
    const options = {
      disableOfflineQueue: true,
      commandOptions: { timeout: commandTimeout },
      socket: { connectTimeout, reconnectStrategy: (retries) => Math.min(20 * 2 ** Math.min(retries, 5), 500) },
    };
    if (this.isCluster) {
      const { username, password } = new URL(seeds[0]);
      const credentials = password ? { username: decodeURIComponent(username) || undefined, password: decodeURIComponent(password) } : {};
      this.client = createCluster({
        rootNodes: seeds.map((seed) => ({ url: seed })),
        defaults: { ...options, ...credentials },
        commandOptions: options.commandOptions,
      });
    } else {
      this.client = createClient({ url, ...options });
    }
    this.lastError = null;
    // Without a listener node-redis's 'error' events would end the process.
    this.client.on('error', (error) => { this.lastError = error; });
    this.attempt = null;
    this.closed = false;
  }

  /** Resolves once connected. The first call waits for the first attempt's
   * outcome (at most connectTimeout); later ones fail at once while the
   * client reconnects on its own. */
  async ready() {
    if (this.client.isReady) return;
    if (this.closed) throw new StorageFailure('unavailable', 'the repository is closed');
    this.attempt ??= this.#firstAttempt();
    await this.attempt;
    if (!this.client.isReady) {
      throw new StorageFailure('unavailable', `Redis is unavailable at ${this.redactedUrl}: ${describe(this.lastError)}`);
    }
  }

  #firstAttempt() {
    // A cluster's connect() ends with its discovery of the slots; the next
    // call after a failure discovers again.
    if (this.isCluster) {
      return this.client.connect().then(() => {}, (error) => { this.lastError = error; this.attempt = null; });
    }
    // One server's connect() retries until it succeeds: wait for its first outcome only.
    return new Promise((resolve) => {
      const settle = () => {
        this.client.off('ready', settle);
        this.client.off('error', settle);
        resolve();
      };
      this.client.on('ready', settle);
      this.client.on('error', settle);
      this.client.connect().catch((error) => { this.lastError = error; settle(); });
    });
  }

  /** Sends one command once ready(), on a cluster to the primary of `firstKey`'s slot. */
  send(firstKey, args, readOnly = false) {
    return this.isCluster ? this.client.sendCommand(firstKey, readOnly, args) : this.client.sendCommand(args);
  }

  /** Milliseconds one PING takes (connecting first, if need be). */
  async ping() {
    const started = performance.now();
    await this.ready();
    await this.send(undefined, ['PING'], true);
    return performance.now() - started;
  }

  async close() {
    this.closed = true;
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      try { this.client.destroy(); } catch { /* already gone */ }
    }
  }
}
