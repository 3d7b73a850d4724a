// `kv.execute` over Redis: every batch is one EVALSHA of redis/kv_batch.lua
// (see the `kv` interface in wit/sessions.wit). This module knows no op: it
// prefixes the keys, runs the script (loading it on NOSCRIPT) and hands its
// reply back as it is, or a storage failure. The connection is
// redis-client.js's.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StorageFailure } from './errors.js';
import { describe } from './redis-client.js';

const SCRIPT_PATH = new URL('../generated/kv_batch.lua', import.meta.url);
/** Joins the batches of `kv.execute-each`, their keys and their replies. */
export const BATCH_SEPARATOR = '\x1e';

let script;
function kvScript() {
  if (script === undefined) {
    const text = readFileSync(SCRIPT_PATH, 'utf8');
    script = { text, sha: createHash('sha1').update(text).digest('hex') };
  }
  return script;
}

export class RedisKv {
  /** `connection`: a RedisConnection; `prefix` goes in front of every key. */
  constructor(connection, prefix = '') {
    this.connection = connection;
    this.prefix = prefix;
    this.script = kvScript();
    /** Batches sent so far (one round trip each). */
    this.roundTrips = 0;
  }

  /** The node-redis client (its events say when it is ready). */
  get client() { return this.connection.client; }

  get redactedUrl() { return this.connection.redactedUrl; }

  /** `kv.execute`: the script's reply; StorageFailure when Redis did not run it. */
  async execute(keys, batch) {
    const names = keys === '' ? [] : keys.split('\n');
    const args = ['EVALSHA', this.script.sha, String(names.length)];
    for (const name of names) args.push(this.prefix + name);
    args.push(this.prefix, batch);
    // On a cluster, to the primary of the first key's slot (a batch's keys share it).
    const firstKey = names.length > 0 ? args[3] : undefined;
    try {
      await this.connection.ready();
      this.roundTrips++;
      return replyText(await this.connection.send(firstKey, args));
    } catch (error) {
      if (!error?.message?.startsWith?.('NOSCRIPT')) throw this.failure(error);
    }
    // A new or restarted server (or a newly promoted primary: the script
    // cache is not replicated) has not seen the script, so it did not run.
    // Load it there and send the batch again.
    try {
      await this.connection.send(firstKey, ['SCRIPT', 'LOAD', this.script.text]);
      return replyText(await this.connection.send(firstKey, args));
    } catch (error) {
      throw this.failure(error);
    }
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

  /** An error of node-redis as the storage-failure the guest gets. */
  failure(error) {
    if (error instanceof StorageFailure) return error;
    const name = error?.constructor?.name ?? '';
    const where = this.connection.redactedUrl;
    if (name === 'TimeoutError' || name === 'SocketTimeoutError' || name === 'ConnectionTimeoutError') {
      return new StorageFailure('timeout', `Redis did not answer in time at ${where}: ${describe(error)}`);
    }
    if (name === 'ErrorReply' || name === 'SimpleError' || name === 'BlobError') {
      return new StorageFailure('other', `Redis refused the batch at ${where}: ${describe(error)}`);
    }
    return new StorageFailure('unavailable', `Redis is unavailable at ${where}: ${describe(error)}`);
  }

  /** Milliseconds one PING takes; StorageFailure when Redis does not answer. */
  async ping() {
    try {
      return await this.connection.ping();
    } catch (error) {
      throw this.failure(error);
    }
  }

  close() { return this.connection.close(); }
}

function replyText(reply) {
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw new StorageFailure('other', `unexpected reply from the kv batch script: ${JSON.stringify(reply)}`);
}
