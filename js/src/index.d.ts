// Types of the public API (written by hand; the documents follow
// schema/sessions.schema.json, field names as in the design document).

export type SessionStatus = string;

/** A session as stored; `expires_in_seconds` is null when the expiry key has no TTL. */
export interface Session {
  id: string;
  model_id: string;
  persona_id: string | null;
  name: string | null;
  temperature: number | null;
  reasoning_effort: number | null;
  max_tokens: number | null;
  tools: string[];
  custom_prompt: string | null;
  agent_internal_id: string | null;
  created_at: string;
  updated_at: string;
  last_activity: string;
  is_active: boolean;
  status: SessionStatus;
  version: number;
  expires_in_seconds: number | null;
  /** The owner, present only on a session created with one. */
  app_name?: string;
  user_id?: string;
}

/** What `createSession` takes: `model_id` is required; leave a field out for absent. */
export interface SessionCreate {
  /** The session's id; left out: a fresh UUID v4. Either a UUID in the
   * 36-character hyphenated form (either case; stored lowercase) or 1 to 128
   * characters of `A-Z a-z 0-9 . _ -` (case-sensitive, stored as given).
   * A live session with that id makes `createSession` throw ConflictError;
   * the leftovers of an expired one are replaced, never inherited. */
  id?: string;
  model_id: string;
  persona_id?: string;
  name?: string;
  temperature?: number;
  reasoning_effort?: number;
  max_tokens?: number;
  tools?: string[];
  custom_prompt?: string;
  agent_internal_id?: string;
  status?: SessionStatus;
  /** The owner (both or neither), for frameworks that scope sessions by
   * app and user; never changed afterwards. */
  app_name?: string;
  user_id?: string;
  /** Initial state: `app:` and `user:` keys go to the owner's shared
   * state, `temp:` keys are dropped, the rest is the session's own. */
  state?: Record<string, JsonValue>;
}

/** Any JSON value. Integers past 2^53 are BigInt both ways: written as
 * their digits, read back as BigInt. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

export type ClearableField =
  | 'persona_id' | 'name' | 'temperature' | 'reasoning_effort' | 'max_tokens' | 'tools' | 'custom_prompt'
  | 'agent_internal_id';

/** What `updateSession` takes: the fields to change, `clear` to reset some,
 * `expected_version` for compare-and-set. */
export interface SessionUpdate extends Partial<Omit<SessionCreate, 'model_id' | 'id'>> {
  model_id?: string;
  clear?: ClearableField[];
  expected_version?: number;
}

export interface Corruption {
  session_id: string;
  key: string;
  field: string;
  message: string;
}

export interface SessionPage {
  sessions: Session[];
  total: number;
  limit: number;
  offset: number;
  /** Pass as `pageToken` for the page after this one; null after the last. */
  next_page_token: string | null;
  corrupt: Corruption[];
}

export interface CleanupReport {
  removed: number;
  skipped: number;
  problems: Corruption[];
}

export interface SessionStats {
  sessions: number;
  active: number;
  inactive: number;
  by_status: Record<string, number>;
  ttl_buckets: { up_to_seconds: number | null; count: number }[];
  oldest_session_id: string | null;
  oldest_created_at: string | null;
  newest_session_id: string | null;
  newest_created_at: string | null;
  expired_awaiting_cleanup: number;
  members_without_keys: number;
  keys_without_members: number;
  keys_without_ttl: number;
  set_size: number;
  index_size: number;
  /** Items of live sessions in all, sessions holding any, and the most one holds (which). */
  items: number;
  sessions_with_items: number;
  max_items: number;
  max_items_session_id: string | null;
  /** Live sessions with an owner. */
  owned_sessions: number;
  problems: Corruption[];
}

/** Who a session belongs to (Google ADK's app and user). */
export interface Owner {
  app_name: string;
  user_id: string;
}

/** `{app_name, user_id}`, or `[appName, userId]`. */
export type OwnerLike = Owner | [string, string];

/** What appendItems and clearItems did. */
export interface ItemsReceipt {
  id: string;
  /** The session's version afterwards. */
  version: number;
  /** Items the session holds afterwards. */
  count: number;
  updated_at: string;
  updated_at_ms: number;
  /** Whether `createIfMissing` created the session. */
  created: boolean;
}

/** One read of a session's items, oldest first. */
export interface ItemsPage {
  id: string;
  items: JsonValue[];
  /** Items the session holds. */
  total: number;
  /** Position of `items[0]` in the whole list (0 is the oldest). */
  first_index: number;
  /** Items of the asked range left out (the oldest) to stay within one
   * read's limits (1000 items, 4 MiB). */
  left_out: number;
  version: number;
  updated_at_ms: number;
}

/** What popItem removed: the newest item, or null when there was none. */
export interface PoppedItem {
  id: string;
  item: JsonValue;
  version: number;
  /** Items left. */
  count: number;
}

/** A session with its state and items (getConversation). */
export interface Conversation {
  session: Session;
  /** The session's state, with its app's and user's under `app:` and `user:`. */
  state: Record<string, JsonValue>;
  items: JsonValue[];
  total: number;
  first_index: number;
  version: number;
  updated_at_ms: number;
}

/** One session of listByOwner: no configuration, no items. */
export interface OwnedSession {
  id: string;
  app_name: string;
  user_id: string;
  created_at: string;
  updated_at: string;
  updated_at_ms: number;
  version: number;
  /** The session's own state (without its app's and user's). */
  state: Record<string, JsonValue>;
}

/** One page of listByOwner, newest-updated first. */
export interface OwnerPage {
  sessions: OwnedSession[];
  /** The app's shared state (keys without `app:`). */
  app_state: Record<string, JsonValue>;
  /** Each listed user's shared state (keys without `user:`). */
  user_states: Record<string, Record<string, JsonValue>>;
  /** Pass as `pageToken` for the next page; null after the last. */
  next_page_token: string | null;
  corrupt: Corruption[];
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
  /** The newest `last` items (default all), read in as many pages as needed, consistently. */
  getAllItems(id: string, options?: { last?: number; owner?: OwnerLike }): Promise<JsonValue[]>;
  countItems(id: string, options?: { owner?: OwnerLike }): Promise<number>;
  popItem(id: string, options?: ItemOptions): Promise<PoppedItem>;
  clearItems(id: string, options?: ItemOptions): Promise<ItemsReceipt>;
  getConversation(id: string, options?: { last?: number; owner?: OwnerLike }): Promise<Conversation>;
  /** Sessions of an app's user (`userId` null: every user), newest-updated first. */
  listByOwner(appName: string, userId?: string | null, options?: { limit?: number; pageToken?: string | null }): Promise<OwnerPage>;
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

