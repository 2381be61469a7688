/**
 * Follows a Sentinel failover as the Sentinels announce it (`+switch-master`), not when the old
 * primary is demoted. Sentinel reconfigures the old primary only at a later look (about 10 s after
 * the switch), and until then it answers as a primary: a client left on it reads what other
 * gateway replicas no longer see (they write to the new primary) and, without acknowledged
 * writes, records a `jti` there that is lost when it is demoted. ioredis's own `failoverDetector`
 * is not used: its disconnect can land while the client connects, which ends the client.
 */
import type { ConnectionOptions } from 'node:tls'
import type { Redis, RedisOptions } from 'ioredis'
import type { RedisAddress, RedisClient } from './redis-client.js'
import { SentinelSubscriptions } from './redis-sentinel-subscriptions.js'
import type { FailoverWatch } from './store.js'

/** A connect to the old primary, retried while Sentinels still name it after the announcement (their configurations spread within seconds). */
export const STALE_RETRIES = 10

interface Switch {
  from: string
  to: string
  /** Connections refused to `from` since the announcement (after following `to` too: a lookup at a Sentinel not yet told). */
  refused: number
}

export interface SentinelWatchOptions {
  sentinels: RedisAddress[]
  primaryName: string
  sentinelUsername?: string
  sentinelPassword?: string
  connectTimeoutMs: number
  /** The Sentinels' TLS (the client's live object, renewed in place), when they speak TLS. */
  tls?: ConnectionOptions
  retryStrategy: (times: number) => number
  /** A Sentinel refused the subscription (its ACL, its password), in words naming it: told once until it subscribes again. */
  onRefused?: (problem: string) => void
}

const watches = new WeakMap<RedisClient, SentinelWatch>()

/** The watch following `client`'s Sentinel failovers, if it has one. */
export function sentinelWatchOf(client: RedisClient): SentinelWatch | undefined {
  return watches.get(client)
}

export class SentinelWatch {
  /** `host:port` of the primary the client's last Sentinel lookup named (as the Sentinel spelt it). */
  #resolved: string | undefined
  #switch: Switch | undefined
  #client: Redis | undefined
  #subscriptions: SentinelSubscriptions | undefined

  constructor(private readonly o: SentinelWatchOptions) {}

  /** For the client's `natMap`: records each address a Sentinel lookup named, changing none. */
  readonly natMap = (address: string): null => {
    this.#resolved = address
    return null
  }

  /** Starts following for `client` (created with `natMap`), subscribed to every configured Sentinel and those they name. */
  follow(client: Redis, subscriber: (options: RedisOptions) => Redis): void {
    this.#client = client
    watches.set(client, this)
    // The ready check (and every queued command) comes after `connect`: leave a stale primary before it.
    client.on('connect', () => this.#leaveOldPrimary())
    // Client options (not per request).
    const subscriptions = new SentinelSubscriptions({ ...this.o, connect: subscriber, announced: (text) => this.#announced(text) })
    this.#subscriptions = subscriptions
    for (const address of this.o.sentinels) subscriptions.add(address)
    // Each connection follows a Sentinel lookup: the Sentinels known now may name others (ioredis learns them too).
    client.on('ready', () => void subscriptions.discover())
  }

  /** Sentinels followed and refusing now, and the refusals in words prefixed by `where` (the store), for the metric and /readyz. */
  state(where: string): FailoverWatch {
    const problem = this.#subscriptions?.problem()
    const counts = this.#subscriptions?.counts() ?? { following: 0, refused: 0 }
    return { following: counts.following, refused: counts.refused, problem: problem === undefined ? undefined : `${where}: ${problem}` }
  }

  /** A rotated Sentinel password, for the subscriptions' next connections. */
  renewPassword(password: string): void {
    this.#subscriptions?.renewPassword(password)
  }

  stop(): void {
    this.#subscriptions?.stop()
  }

  /** `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`, from any Sentinel. */
  #announced(text: string): void {
    const [name, oldHost, oldPort, newHost, newPort] = text.split(' ')
    if (name !== this.o.primaryName) return
    const to = `${newHost ?? ''}:${newPort ?? ''}`
    if (this.#switch?.to === to) return
    this.#switch = { from: `${oldHost ?? ''}:${oldPort ?? ''}`, to, refused: 0 }
    this.#leaveOldPrimary()
  }

  /** On the primary switched away from (connected, or connecting after a stale lookup): reconnect, through Sentinel. */
  #leaveOldPrimary(): void {
    const client = this.#client
    const s = this.#switch
    // Past the budget the Sentinels keep naming the old primary (a switch back not heard): theirs is the word.
    if (client === undefined || s === undefined || s.refused >= STALE_RETRIES) return
    // Not while connecting: ioredis ends a client disconnected then (its `connect` follows, and comes here).
    if (this.#resolved !== s.from || (client.status !== 'connect' && client.status !== 'ready')) return
    s.refused++
    client.disconnect(true)
  }
}
