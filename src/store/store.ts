/**
 * The one persistence interface. Everything that must survive a restart or be shared
 * between replicas (request tokens, users' access tokens, the `jti` replay cache) goes
 * through it. Values are opaque strings; callers encrypt secrets before `put`
 * (see seal.ts), so a backend never sees plaintext secrets.
 */
import type { RedisTlsOptions } from './redis-client.js'

/**
 * What a caller is told when the store fails: its address, file and the driver's error are the
 * operator's (the log line and /readyz keep them), not topology to hand every caller.
 */
export const UNREACHABLE = 'the gateway\'s store is not answering: try again shortly (the gateway\'s log says why)'

/** What a reload renews for a Redis store's next connections (a Cluster's passwords are restart-only). */
export interface RenewedConnections {
  tls?: RedisTlsOptions
  password?: string
  sentinelPassword?: string
}

/** The Sentinel failover watch's Sentinels now: subscribed to `+switch-master`, refusing it, and the refusals in words (undefined when none). */
export interface FailoverWatch {
  readonly following: number
  readonly refused: number
  readonly problem: string | undefined
}

/** One counter Store.incrementIfUnder reads, and what each of its counts weighs. */
export interface WeightedCounter {
  readonly key: string
  readonly weight: number
}

/**
 * What Store.incrementIfUnder read (each counter's count before it added, in order) and whether it
 * added one. A count is undefined only for a counter of weight 0 of another group a Redis Cluster
 * reads beside the script (incrementIfUnder): unread when the take added, unknown when that read failed.
 */
export interface BoundedIncrement {
  readonly added: boolean
  readonly counts: readonly (number | undefined)[]
}

export interface Store {
  /** Value for key, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>
  /** Write (replace) a value; `ttlMs` undefined means no expiry. Resolves only when durable. */
  put(key: string, value: string, ttlMs?: number): Promise<void>
  /** Atomically write only if no live value exists; true when this call wrote it. */
  putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>
  /**
   * Atomically adds `by` (a safe integer, may be negative) to the counter at key and returns
   * the new value; an absent or expired key counts from 0 and is created with `ttlMs`, and so
   * does a live counter below 0 (older versions' take-backs left -1; it keeps its TTL). The TTL
   * is set only on creation, so a counter per time window expires on time however often it
   * moves. The key must hold a counter (an integer) or nothing.
   */
  increment(key: string, by: number, ttlMs?: number): Promise<number>
  /**
   * Atomically subtracts 1 from the live counter at key when it is above 0, and returns the new
   * value; an absent or expired key, or a counter at 0 or below, is left as it is (no key is
   * created, no TTL moves) and gives undefined. A take-back that can never go below 0.
   */
  decrementIfPositive(key: string): Promise<number | undefined>
  /**
   * Atomically, in one round trip: reads the counters (absent, expired, below 0 or not a whole
   * number count 0) and, when the sum of each count times its weight is under `bound`, adds 1 to
   * the first as `increment(counters[0].key, 1, ttlMs)` would; else writes nothing. Weights and
   * bound are safe integers (weights ≥ 0; a counter of weight 0 is only read, and a bound ≤ 0 is
   * never met: a read of them all in one step, which writes nothing and takes no write lock nor
   * WAIT). The keys must share their group (the first three `:`-separated segments, redis-keys.ts):
   * a Redis Cluster runs it on that group's slot; counters of weight 0 may be of another group,
   * which a Cluster reads beside it (not atomically with it): with a bound <= 0 in the same round
   * trip, else only after a refusal (their count undefined when it added); a failure of that read
   * leaves their counts undefined and fails nothing (the script's answer stands). Redis:
   * its answer stands when replicas did not confirm the add (the write landed; the request's
   * later writes are sent without WAIT and fail as unconfirmed, as after any such write).
   */
  incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement>
  /**
   * Whether a write of this store that failed with `failure` may have landed all the same (what a
   * caller that would undo it must know: undoing a write that never landed undoes another's).
   * SQLite and memory: never (a failed statement or transaction rolled back). Redis: unless it
   * certainly did not run (redis-write.ts, writeNeverRan): refused before it was sent (an earlier
   * failure in the request, a closed store or client, a Redis down: ioredis gave up on it unwritten),
   * or answered with an error of its own (OOM, NOPERM, MISCONF, a script's refused write, READONLY
   * twice: ioredis resends a write once after READONLY, redis-client.ts), or a MOVED/ASK whose node
   * could not be reached. A timeout (the command written, or still queued: ioredis writes it once the
   * connection is ready, unless that connection's handshake fails first: counted so too), a connection
   * lost after the write, or a READONLY resend that fails otherwise (it may have reached the next
   * primary, or not: a resend flushed unwritten is counted so too) may have run.
   */
  mayHaveLanded(failure: unknown): boolean
  /**
   * Atomically, and only while the live value at key is still `expected`: replaces it with
   * `replacement`, keeping its expiry (or `ttlMs` from now, when given), or removes it when
   * `replacement` is undefined. True when this call changed it. A read-then-write (a re-seal, an
   * expiry shortened) goes through it, so a newer write or a delete meanwhile is never undone.
   */
  replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean>
  /** Remove; true when a live value was removed. */
  delete(key: string): Promise<boolean>
  /** Atomically read and remove (one-shot values such as request tokens). */
  take(key: string): Promise<string | undefined>
  /** Live keys with the given prefix (for moving a user's tokens, listing, tests). */
  keys(prefix: string): Promise<string[]>
  /** Cheap reachability probe for /readyz. */
  ping(): Promise<void>
  /** Why the store may silently drop keys (a Redis `maxmemory-policy` other than noeviction); undefined when it keeps them; throws when it cannot tell now. */
  evictionRisk?(): Promise<string | undefined>
  /** The Sentinel failover watch (Redis Sentinel; undefined otherwise): how many Sentinels it follows and refuse it, and why a failover may not be followed as announced. */
  failoverWatch?(): FailoverWatch | undefined
  /** Renewed client TLS files and passwords for a networked store's next connections (Redis); others have none. */
  renewConnections?(renewed: RenewedConnections): void
  close(): Promise<void>
}
