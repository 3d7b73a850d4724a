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
}

/** What `createSession` takes: `model_id` is required; leave a field out for absent. */
export interface SessionCreate {
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
}

export type ClearableField =
  | 'persona_id' | 'name' | 'temperature' | 'reasoning_effort' | 'max_tokens' | 'tools' | 'custom_prompt'
  | 'agent_internal_id';

/** What `updateSession` takes: the fields to change, `clear` to reset some,
 * `expected_version` for compare-and-set. */
export interface SessionUpdate extends Partial<Omit<SessionCreate, 'model_id'>> {
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
  problems: Corruption[];
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
  deleteSession(id: string): Promise<boolean>;
  listSessions(limit?: number, offset?: number, pageToken?: string | null): Promise<SessionPage>;
  extendSessionTtl(id: string): Promise<boolean>;
  cleanupExpiredSessions(): Promise<number>;
  cleanupExpiredSessionsReport(): Promise<CleanupReport>;
  reindexSessions(): Promise<number>;
  stats(progress?: (soFar: SessionStats) => void): Promise<SessionStats>;
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

