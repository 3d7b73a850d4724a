// Types of the public API. The documents (what the component reads and
// returns) are generated from schema/sessions.schema.json into
// documents.d.ts by scripts/gen-types.mjs; the options and the method
// signatures below are written by hand.
import type {
  CleanupReport, DataField, ItemPopped, ItemsPage, ItemsReceipt, JsonValue, Owner, OwnerPage, Session,
  SessionCreate, SessionPage, SessionStats, SessionUpdate,
} from './documents.js';

// Every document type; `ItemOptions` below is the JavaScript options, not
// the snake_case `item-options` document (that is Documents['item-options']).
export * from './documents.js';

export type SessionStatus = string;
/** A data field that `updateSession` can reset with `clear`. */
export type ClearableField = DataField;
/** What popItem removed: the newest item, or null when there was none. */
export type PoppedItem = ItemPopped;

/** `{app_name, user_id}`, or `[appName, userId]`. */
export type OwnerLike = Owner | [string, string];

/** A session with its state and items (getConversation). */
export interface Conversation extends Pick<ItemsPage, 'items' | 'total' | 'first_index' | 'version' | 'updated_at_ms'> {
  session: Session;
  /** The session's state, with its app's and user's under `app:` and `user:`. */
  state: Record<string, JsonValue>;
}

export interface AppendItemsOptions {
  /** Append only if the session is at this version (else ConflictError). */
  expectedVersion?: number;
  /** Keep only the newest N items (1 to 10,000), trimmed in the same step. */
  keepLast?: number;
  /** Append only if the session has this owner (else SessionNotFoundError). */
  owner?: OwnerLike;
  /** State changes applied in the same step (`app:`, `user:`, `temp:` prefixes as in SessionCreate.state). */
  stateDelta?: Record<string, JsonValue>;
  /** Create the session from this if no live session has the id (its `id` is the call's). */
  createIfMissing?: Omit<SessionCreate, 'id'>;
}

export interface GetItemsOptions {
  /** The newest N items; 0 reads none (a count). Default: all, within one read's limits. */
  last?: number;
  /** Or positions start..stop, both included, 0 the oldest (stop past the end: up to the newest). */
  start?: number;
  stop?: number;
  owner?: OwnerLike;
  /** Every item selected in one page (`left_out` 0), read at one version of the session (as getAllItems). */
  whole?: boolean;
}

export interface ItemOptions {
  expectedVersion?: number;
  owner?: OwnerLike;
}

export interface SessionRepositoryOptions {
  /** Prepended to every key (default '': the document's layout). */
  prefix?: string;
  /** Seconds a session lives without activity (default 3600). */
  ttl?: number;
  /** Seconds the hashes outlive the expiry key, for cleanup (default 300). */
  grace?: number;
  /** Sessions per Redis batch in cleanup, reindex and stats (default 250). */
  batchSize?: number;
  /** 0: the design document's layout (default on one server); N > 0: the
   * sharded layout (64 by default on a Redis Cluster). */
  shards?: number;
  /** Treat the one URL as a Redis Cluster seed (several comma-separated URLs imply it). */
  cluster?: boolean;
  /** Component instances, i.e. calls in flight at once (default 8). */
  poolSize?: number;
  /** Bytes of linear memory per instance (default 64 MiB). */
  memoryLimit?: number;
  /** Loop iterations the guest may run between two Redis round trips (default 2^31-1). */
  fuel?: number;
  /** Seconds to wait for a connection (default 2). */
  connectTimeout?: number;
  /** Seconds to wait for a reply (default 5). */
  commandTimeout?: number;
  /** 'guest' (default), or the directory of another `jco transpile` output. */
  component?: string;
}

export class SessionRepository {
  constructor(redisUrl?: string, options?: SessionRepositoryOptions);
  /** Where sessions are kept (password redacted). */
  readonly storage: string;
  /** Storage batches sent so far (one round trip each). */
  readonly roundTrips: number;
  readonly prefix: string;
  readonly ttl: number;
  readonly grace: number;
  readonly batchSize: number;
  readonly shards: number;
  /** The `repository` export `name` as wit/sessions.wit spells it, its
   * parameters as jco takes them (BigInt for u64, documents as JSON text);
   * resolves to its ok value as it is (documents as JSON text). */
  call(name: string, ...args: unknown[]): Promise<unknown>;
  createSession(sessionData: SessionCreate): Promise<Session>;
  /** The live session, or null. */
  getSession(id: string): Promise<Session | null>;
  getSessionOrThrow(id: string): Promise<Session>;
  updateSession(id: string, updateData: SessionUpdate): Promise<Session>;
  /** With `owner`/`expectedVersion`: only a session with that owner (else
   * false) at that version (else ConflictError). */
  deleteSession(id: string, options?: ItemOptions): Promise<boolean>;
  listSessions(limit?: number, offset?: number, pageToken?: string | null): Promise<SessionPage>;
  extendSessionTtl(id: string): Promise<boolean>;
  cleanupExpiredSessions(): Promise<number>;
  cleanupExpiredSessionsReport(): Promise<CleanupReport>;
  reindexSessions(): Promise<number>;
  stats(progress?: (soFar: SessionStats) => void): Promise<SessionStats>;
  appendItems(id: string, items: JsonValue[], options?: AppendItemsOptions): Promise<ItemsReceipt>;
  getItems(id: string, options?: GetItemsOptions): Promise<ItemsPage>;
  /** The newest `last` items (default all) in one call: the component reads them at one version of the session (ConflictError if it kept changing). */
  getAllItems(id: string, options?: { last?: number; owner?: OwnerLike }): Promise<JsonValue[]>;
  countItems(id: string, options?: { owner?: OwnerLike }): Promise<number>;
  popItem(id: string, options?: ItemOptions): Promise<PoppedItem>;
  clearItems(id: string, options?: ItemOptions): Promise<ItemsReceipt>;
  getConversation(id: string, options?: { last?: number; owner?: OwnerLike }): Promise<Conversation>;
  /** Sessions of an app's user (`userId` null: every user), newest-updated first. */
  listByOwner(appName: string, userId?: string | null, options?: { limit?: number; pageToken?: string | null }): Promise<OwnerPage & { next_page_token: string | null }>;
  /** Milliseconds one PING takes. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

export type ErrorKind = 'invalid_input' | 'not_found' | 'conflict' | 'data_corrupt' | 'backend' | 'component';
export type StorageKind = 'unavailable' | 'timeout' | 'wrong_type' | 'invalid_batch' | 'other';

export class SessionError extends Error {
  readonly kind: ErrorKind | 'session_error';
}
export class InvalidInputError extends SessionError { readonly kind: 'invalid_input'; }
export class SessionNotFoundError extends SessionError { readonly kind: 'not_found'; }
export class ConflictError extends SessionError { readonly kind: 'conflict'; }
export class DataCorruptError extends SessionError {
  readonly kind: 'data_corrupt';
  readonly sessionId: string;
  readonly key: string;
  readonly field: string;
  readonly detail: string;
}
export class BackendError extends SessionError {
  readonly kind: 'backend';
  readonly storageKind: StorageKind;
}
export class ComponentError extends SessionError { readonly kind: 'component'; }

export const DEFAULT_TTL_SECONDS: number;
export const DEFAULT_GRACE_SECONDS: number;
export const DEFAULT_BATCH_SIZE: number;
export const DEFAULT_MEMORY_LIMIT: number;
export const DEFAULT_FUEL: number;
export const DEFAULT_POOL_SIZE: number;
export const DEFAULT_CLUSTER_SHARDS: number;

