import { GatewayError } from '../errors.js'
import { closeRedisClient, createRedisClient, describeTopology, topologyOf, type RedisClient } from './redis-client.js'
import { ConnectChecks } from './redis-connect-checks.js'
import { renewClientPasswords, renewClientTls } from './redis-renewal.js'
import type { RedisStoreOptions, ReplicaAcknowledgement } from './redis-store-options.js'
import { flatLayout, hashTagLayout, type KeyLayout } from './redis-keys.js'
import { DECREMENT_IF_POSITIVE_SCRIPT, INCREMENT_SCRIPT, REPLACE_IF_UNCHANGED_SCRIPT } from './redis-scripts.js'
import { scanKeys, scanTargets } from './redis-scan.js'
import { credentialKeys, storeFailure, type CredentialKeys } from './redis-failure.js'
import { sentinelWatchOf } from './redis-sentinel-watch.js'
import { checkRedisHealth } from './redis-health.js'
import { NoAnswerInTime, StoreWrites } from './redis-store-write.js'
import { UNREACHABLE, type BoundedIncrement, type FailoverWatch, type RenewedConnections, type Store, type WeightedCounter } from './store.js'
import { checkBound } from './counter-bound.js'
import { takeOnRedis, type TakeStore } from './redis-take.js'
import { normalizeStep, normalizeTtl } from './ttl.js'
import { failIfStoreFailed, outsideRequests, rememberStoreFailure } from './request-wait.js'

export type { RedisConnectWarning, RedisStoreOptions, ReplicaAcknowledgement } from './redis-store-options.js'

/** A Store on Redis ≥ 6.2 (GETDEL); Redis does expiry itself, so nothing is purged here. */
export class RedisStore implements Store {
  readonly #redis: RedisClient
  readonly #keys: KeyLayout
  readonly #where: string
  readonly #take: TakeStore
  readonly #ack: ReplicaAcknowledgement | undefined
  readonly #deadlineMs: number
  #lastError: Error | undefined
  /** A READONLY answer since the last write that went through (a replica). */
  #readOnly: Error | undefined
  readonly #checks: ConnectChecks
  readonly #credentials: CredentialKeys
  #closed = false
  readonly #writes: StoreWrites

  constructor(options: RedisStoreOptions) {
    const topology = topologyOf(options)
    this.#where = describeTopology(topology)
    const prefix = options.keyPrefix ?? 'mtls-gateway:'
    this.#keys = topology.kind === 'cluster' ? hashTagLayout(prefix) : flatLayout(prefix)
    this.#ack = options.acknowledge !== undefined && options.acknowledge.replicas > 0 ? options.acknowledge : undefined
    const commandTimeoutMs = options.commandTimeoutMs ?? 3000
    // The outer bound on any one operation (WAIT included), whatever the client queues.
    this.#deadlineMs = commandTimeoutMs + (this.#ack?.timeoutMs ?? 0)
    this.#credentials = credentialKeys(options)
    const told = options.onConnectWarning
    this.#redis = createRedisClient({
      topology,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      commandTimeoutMs,
      onReadOnly: (e) => (this.#readOnly = e),
      ...(told !== undefined ? { onSentinelRefused: (problem: string) => told({ about: 'sentinel_refused', problem: `redis store ${this.#where}: ${problem}` }) } : {}),
    })
    // Without a listener ioredis prints every reconnect failure; keep the last for messages.
    this.#redis.on('error', (e: Error) => {
      this.#lastError = e
      this.#readOnly = undefined
    })
    const run = <T>(op: string, fn: () => Promise<T>): Promise<T> => this.#run(op, fn)
    this.#writes = new StoreWrites({ redis: this.#redis, ack: this.#ack, where: this.#where, run, wrote: () => (this.#readOnly = undefined) })
    this.#take = this.#takeStore(topology.kind === 'cluster')
    this.#checks = new ConnectChecks(this.#redis, { where: this.#where, keys: this.#keys, prefix, options, acknowledged: this.#ack !== undefined, run, primaries: () => scanTargets(this.#redis, (fn) => this.#run('keys', fn)) })
    this.#redis.on('ready', () => {
      this.#lastError = undefined
      this.#checks.connected()
    })
    // ioredis gives up for good on some failures during a (re)connect: a store is never given up.
    this.#redis.on('end', () => {
      if (!this.#closed) setTimeout(() => this.#revive(), 1000).unref()
    })
  }

  /** What takeOnRedis needs: the write path for a take, the read path (no WAIT) for a read, and a side read the request does not remember. */
  #takeStore(cluster: boolean): TakeStore {
    const [keys, writes] = [this.#keys, this.#writes]
    return {
      cluster,
      toRedis: (key) => keys.toRedis(key),
      write: async (key, script) => (await writes.write('incrementIfUnder', key, script, true)) as number[],
      readScript: async ([name, ...args]) => (await this.#run('incrementIfUnder', () => this.#redis.call(name, ...args))) as number[],
      sideGet: async (key) => (await this.#run('get', () => this.#redis.get(keys.toRedis(key)), false)) ?? undefined,
    }
  }

  /** Renewed TLS files and passwords (a reload): the next connections use them, the open ones stay. */
  renewConnections(renewed: RenewedConnections): void {
    if (renewed.tls) renewClientTls(this.#redis, renewed.tls)
    renewClientPasswords(this.#redis, renewed)
  }

  #revive(): void {
    if (this.#closed || this.#redis.status !== 'end') return
    this.#redis.connect().catch(() => undefined)
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#run('get', () => this.#redis.get(this.#keys.toRedis(key)))) ?? undefined
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    const ttl = normalizeTtl(ttlMs)
    const k = this.#keys.toRedis(key)
    await this.#writes.write('put', k, ttl === undefined ? ['set', k, value] : ['set', k, value, 'PX', ttl])
  }

  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs)
    const k = this.#keys.toRedis(key)
    const reply = await this.#writes.write('putIfAbsent', k, ttl === undefined ? ['set', k, value, 'NX'] : ['set', k, value, 'PX', ttl, 'NX'])
    return reply === 'OK'
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const [step, ttl, k] = [normalizeStep(by), normalizeTtl(ttlMs), this.#keys.toRedis(key)]
    return (await this.#writes.write('increment', k, ['eval', INCREMENT_SCRIPT, 1, k, String(step), ttl === undefined ? '' : String(ttl)])) as number
  }

  async decrementIfPositive(key: string): Promise<number | undefined> {
    const k = this.#keys.toRedis(key)
    return ((await this.#writes.write('decrement', k, ['eval', DECREMENT_IF_POSITIVE_SCRIPT, 1, k])) as number | null) ?? undefined
  }

  /** One script on the first counter's slot (redis-take.ts); its answer stands when replicas did not confirm the add (store.ts). */
  async incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement> {
    checkBound(counters, bound)
    return takeOnRedis(this.#take, counters, bound, String(normalizeTtl(ttlMs)))
  }

  /** A write failure Redis may have run all the same (writeNeverRan, #write): a timeout, a lost connection or reply, a resent READONLY. */
  readonly mayHaveLanded: Store['mayHaveLanded'] = (failure) => this.#writes.mayHaveRun(failure)

  async replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean> {
    const [k, ttl] = [this.#keys.toRedis(key), replacement === undefined ? 'delete' : String(normalizeTtl(ttlMs) ?? 'keep')]
    return (await this.#writes.write('replaceIfUnchanged', k, ['eval', REPLACE_IF_UNCHANGED_SCRIPT, 1, k, expected, ttl, replacement ?? ''])) === 1
  }

  async delete(key: string): Promise<boolean> {
    const k = this.#keys.toRedis(key)
    return ((await this.#writes.write('delete', k, ['del', k])) as number) > 0
  }

  async take(key: string): Promise<string | undefined> {
    const k = this.#keys.toRedis(key)
    return ((await this.#writes.write('take', k, ['getdel', k])) as string | null) ?? undefined
  }

  async keys(prefix: string): Promise<string[]> {
    return scanKeys(await scanTargets(this.#redis, (fn) => this.#run('keys', fn)), this.#keys, prefix, (fn) => this.#run('keys', fn))
  }

  /** Every primary reachable, a Cluster up at each, and each with the replicas in sync that writes must reach (checkRedisHealth). */
  async ping(): Promise<void> {
    await this.#checks.stillRefused()
    await checkRedisHealth(this.#redis, this.#ack, this.#where, (fn) => this.#run('ping', fn))
  }

  /** The Sentinel failover watch's state (undefined without Sentinel): Sentinels followed and refusing, and why a failover may not be followed as announced. */
  failoverWatch(): FailoverWatch | undefined {
    return sentinelWatchOf(this.#redis)?.state(`redis store ${this.#where}`)
  }

  /** Why this Redis may silently drop the gateway's keys (ConnectChecks.evictionRisk). */
  evictionRisk(): Promise<string | undefined> {
    return this.#checks.evictionRisk()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await closeRedisClient(this.#redis)
  }

  /** `fn` bounded by the deadline, its failure as store_unavailable, kept for the request unless `remember` is false (a read whose failure must not fail the request's other operations). */
  async #run<T>(op: string, fn: () => Promise<T>, remember = true): Promise<T> {
    // One wait per request (request-wait.ts): after a failure, the request's later operations fail at once.
    failIfStoreFailed()
    if (this.#closed) throw new GatewayError('store_unavailable', `redis store ${this.#where}: ${op} after close`, { callerMessage: UNREACHABLE })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NoAnswerInTime(`no answer within ${this.#deadlineMs} ms`)), this.#deadlineMs)
    })
    try {
      return await Promise.race([fn(), deadline])
    } catch (e) {
      const failure = storeFailure(this.#where, op, e, { status: this.#redis.status, lastError: this.#lastError, readOnly: this.#readOnly, credentials: this.#credentials })
      throw remember ? rememberStoreFailure(failure) : failure
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Connects (lazily, in the background) to the configured Redis; its connections and their callbacks belong to no request (request-wait.ts). */
export function openRedisStore(options: RedisStoreOptions): RedisStore {
  return outsideRequests(() => new RedisStore(options))
}
