import type { Command } from 'ioredis'
import { GatewayError } from '../errors.js'
import { closeRedisClient, createRedisClient, describeTopology, topologyOf, type RedisClient } from './redis-client.js'
import { ConnectChecks } from './redis-connect-checks.js'
import { renewClientPasswords, renewClientTls } from './redis-renewal.js'
import type { RedisStoreOptions, ReplicaAcknowledgement } from './redis-store-options.js'
import { flatLayout, hashTagLayout, type KeyLayout } from './redis-keys.js'
import { DECREMENT_IF_POSITIVE_SCRIPT, INCREMENT_IF_UNDER_SCRIPT, INCREMENT_SCRIPT, REPLACE_IF_UNCHANGED_SCRIPT } from './redis-scripts.js'
import { scanKeys, scanTargets } from './redis-scan.js'
import { credentialKeys, storeFailure, type CredentialKeys } from './redis-failure.js'
import { sentinelWatchOf } from './redis-sentinel-watch.js'
import { checkRedisHealth } from './redis-health.js'
import { execWrite, writeNeverRan, type RedisWrite } from './redis-write.js'
import { UNREACHABLE, type BoundedIncrement, type FailoverWatch, type RenewedConnections, type Store, type WeightedCounter } from './store.js'
import { checkBound } from './counter-bound.js'
import { normalizeStep, normalizeTtl } from './ttl.js'
import { failIfStoreFailed, outsideRequests, rememberStoreFailure, rememberUnconfirmedWrite, unconfirmedWriteOfRequest } from './request-wait.js'

export type { RedisConnectWarning, RedisStoreOptions, ReplicaAcknowledgement } from './redis-store-options.js'

/** A Store on Redis ≥ 6.2 (GETDEL); Redis does expiry itself, so nothing is purged here. */
export class RedisStore implements Store {
  readonly #redis: RedisClient
  readonly #keys: KeyLayout
  readonly #where: string
  readonly #ack: ReplicaAcknowledgement | undefined
  readonly #deadlineMs: number
  #lastError: Error | undefined
  /** A READONLY answer since the last write that went through (a replica). */
  #readOnly: Error | undefined
  readonly #checks: ConnectChecks
  readonly #credentials: CredentialKeys
  #closed = false
  /** Failures of writes Redis may have run all the same (mayHaveLanded); any other failure wrote nothing. */
  readonly #mayHaveRun = new WeakSet<Error>()

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
    await this.#write('put', k, ttl === undefined ? ['set', k, value] : ['set', k, value, 'PX', ttl])
  }

  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs)
    const k = this.#keys.toRedis(key)
    const reply = await this.#write('putIfAbsent', k, ttl === undefined ? ['set', k, value, 'NX'] : ['set', k, value, 'PX', ttl, 'NX'])
    return reply === 'OK'
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const [step, ttl, k] = [normalizeStep(by), normalizeTtl(ttlMs), this.#keys.toRedis(key)]
    return (await this.#write('increment', k, ['eval', INCREMENT_SCRIPT, 1, k, String(step), ttl === undefined ? '' : String(ttl)])) as number
  }

  async decrementIfPositive(key: string): Promise<number | undefined> {
    const k = this.#keys.toRedis(key)
    return ((await this.#write('decrement', k, ['eval', DECREMENT_IF_POSITIVE_SCRIPT, 1, k])) as number | null) ?? undefined
  }

  /** One script on the counters' slot; its answer stands when replicas did not confirm the add (store.ts). */
  async incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement> {
    checkBound(counters, bound)
    const [ttl, keys] = [String(normalizeTtl(ttlMs)), counters.map((c) => this.#keys.toRedis(c.key))]
    const script: RedisWrite = ['eval', INCREMENT_IF_UNDER_SCRIPT, keys.length, ...keys, String(bound), ttl, ...counters.map((c) => String(c.weight))]
    const [added, ...counts] = (await this.#write('incrementIfUnder', keys[0] as string, script, true)) as number[]
    return { added: added === 1, counts }
  }

  /** A write failure Redis may have run all the same (writeNeverRan, #write): a timeout, a lost connection or reply, a resent READONLY. */
  readonly mayHaveLanded: Store['mayHaveLanded'] = (failure) => failure instanceof Error && this.#mayHaveRun.has(failure)

  async replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean> {
    const [k, ttl] = [this.#keys.toRedis(key), replacement === undefined ? 'delete' : String(normalizeTtl(ttlMs) ?? 'keep')]
    return (await this.#write('replaceIfUnchanged', k, ['eval', REPLACE_IF_UNCHANGED_SCRIPT, 1, k, expected, ttl, replacement ?? ''])) === 1
  }

  async delete(key: string): Promise<boolean> {
    const k = this.#keys.toRedis(key)
    return ((await this.#write('delete', k, ['del', k])) as number) > 0
  }

  async take(key: string): Promise<string | undefined> {
    const k = this.#keys.toRedis(key)
    return ((await this.#write('take', k, ['getdel', k])) as string | null) ?? undefined
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

  /**
   * One write, then — when replicas must acknowledge it — WAIT on the same connection (a failover cannot
   * lose a write `replicas` replicas hold); none after a write of the request fell short (request-wait.ts).
   * `answerStands`: the reply is returned when replicas fell short all the same (remembered for the request).
   */
  async #write(op: string, key: string, write: RedisWrite, answerStands = false): Promise<unknown> {
    const earlier = this.#ack && unconfirmedWriteOfRequest()
    const ack = earlier === undefined ? this.#ack : undefined
    const sent: Command[] = []
    let started = false
    let replies: unknown[]
    try {
      replies = await this.#run(op, () => {
        started = true
        return execWrite(this.#redis, key, write, ack, sent)
      })
    } catch (e) {
      throw this.#failedWrite(e, started, sent)
    }
    const [reply, confirmed] = replies
    this.#readOnly = undefined
    const shortfall = ack !== undefined && (confirmed as number) < ack.replicas ? rememberUnconfirmedWrite(`${op} reached ${String(confirmed)} of ${ack.replicas} replicas within ${ack.timeoutMs} ms`) : undefined
    const unconfirmed = shortfall ?? (earlier && `${op} sent without waiting for replicas (earlier in this request, ${earlier})`)
    if (unconfirmed !== undefined && !answerStands) {
      const landed = new GatewayError('store_unavailable', `redis store ${this.#where}: ${unconfirmed}; not acknowledged`, { callerMessage: UNREACHABLE })
      this.#mayHaveRun.add(landed)
      throw landed
    }
    return reply
  }

  /**
   * A write's failure, kept in #mayHaveRun when Redis may have run it: it was handed to execWrite and
   * neither our deadline (the command may still be queued or unanswered) nor writeNeverRan rules it out.
   * One refused before it was handed over (the request's earlier failure, a closed store) is a fresh
   * error: the request's failure it repeats may belong to a write that may have run.
   */
  #failedWrite(e: unknown, started: boolean, sent: readonly Command[]): unknown {
    if (!started) return e instanceof GatewayError ? new GatewayError(e.reason, e.message, { cause: e, callerMessage: e.callerMessage }) : e
    const cause = e instanceof Error ? e.cause : undefined
    if (e instanceof Error && (cause instanceof NoAnswerInTime || !writeNeverRan(cause, sent))) this.#mayHaveRun.add(e)
    return e
  }

  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
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
      throw rememberStoreFailure(storeFailure(this.#where, op, e, { status: this.#redis.status, lastError: this.#lastError, readOnly: this.#readOnly, credentials: this.#credentials }))
    } finally {
      clearTimeout(timer)
    }
  }
}

/** An operation past its deadline: the client may still write or answer it. */
class NoAnswerInTime extends Error {}

/** Connects (lazily, in the background) to the configured Redis; its connections and their callbacks belong to no request (request-wait.ts). */
export function openRedisStore(options: RedisStoreOptions): RedisStore {
  return outsideRequests(() => new RedisStore(options))
}
