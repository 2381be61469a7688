/**
 * The Sentinel watch's subscriptions to `+switch-master`: one connection per Sentinel, for the
 * configured ones and those they name (`SENTINEL sentinels`, as ioredis learns them for its
 * lookups), at most MAX_SENTINELS. A refusal (a Sentinel ACL without the channel or SUBSCRIBE, a
 * refused password) is told once per Sentinel and kept for /readyz: without the subscription the
 * store leaves a switched-away primary only when Sentinel demotes it. Refused subscriptions are
 * tried again every RETRY_MS and at a password rotation, so a fixed ACL or password ends it. So is
 * a discovery that did not see the whole set (no Sentinel answered, or one named another flagged
 * `disconnected`: Sentinels that have just met, or one restarting), not only the store's next
 * connection, which a stable primary may never need.
 */
import type { Redis, RedisOptions } from 'ioredis'
import type { RedisAddress } from './redis-client.js'
import { NO_SERVER_HANDOFF } from './redis-no-handoff.js'
import type { SentinelWatchOptions } from './redis-sentinel-watch.js'

/** Sentinels followed at most, configured and discovered: a set is 3 to 5; a list that grows past this is not followed further. */
export const MAX_SENTINELS = 16
/** How often a refused subscription, and an incomplete discovery, is tried again. */
export const RETRY_MS = 10_000
const CHANNEL = '+switch-master'

/** The watch's options, how to open a connection, and where announcements go. */
export interface SubscriptionOptions extends SentinelWatchOptions {
  connect: (options: RedisOptions) => Redis
  announced: (text: string) => void
}

interface Subscriber {
  address: RedisAddress
  redis: Redis
}

export class SentinelSubscriptions {
  readonly #subscribers = new Map<string, Subscriber>()
  /** Sentinel (`host:port`) → its refusal, while it lasts. */
  readonly #refused = new Map<string, string>()
  /** Sentinels whose subscription was taken (and not refused since). */
  readonly #subscribed = new Set<string>()
  #password: string | undefined
  #stopped = false
  /** Whether the last discovery may have missed a Sentinel (none answered, or one was named disconnected). */
  #incomplete = false
  readonly #retry: NodeJS.Timeout

  constructor(private readonly o: SubscriptionOptions) {
    this.#password = o.sentinelPassword
    this.#retry = setInterval(() => {
      this.#retryRefused()
      if (this.#incomplete) void this.discover()
    }, RETRY_MS).unref()
  }

  /** Subscribes to the Sentinel at `address`, unless it is followed already or the bound is reached. */
  add(address: RedisAddress): void {
    const key = `${address.host}:${address.port}`
    if (this.#stopped || this.#subscribers.has(key) || this.#subscribers.size >= MAX_SENTINELS) return
    // The SUBSCRIBE waits for the Sentinel however long it is away; ioredis subscribes again after each reconnect.
    const redis = this.o.connect(this.#options(address, { maxRetriesPerRequest: null, retryStrategy: this.o.retryStrategy }))
    // A reconnect whose password is refused (a rotation at the Sentinels first) shows only here: ioredis
    // retries it, and subscribes again by itself once it is taken (then `ready` confirms it).
    redis.on('error', (e: Error) => void (e.name === 'ReplyError' && this.#refuse(key, e.message)))
    redis.on('message', (_channel: string, text: string) => this.o.announced(text))
    redis.on('ready', () => this.#subscribe(key, redis))
    this.#subscribers.set(key, { address, redis })
  }

  /** Asks the followed Sentinels, first answer wins, which others watch the primary, and follows those too. */
  async discover(): Promise<void> {
    for (const { address } of [...this.#subscribers.values()]) {
      if (this.#stopped) return
      const named = await this.#sentinelsNamedBy(address).catch(() => undefined)
      if (named === undefined) continue
      for (const a of named.reachable) this.add(a)
      this.#incomplete = named.disconnected > 0
      return
    }
    this.#incomplete = true
  }

  /** Why some Sentinel's `+switch-master` is not followed; undefined when none refused it. */
  problem(): string | undefined {
    if (this.#refused.size === 0) return undefined
    return [...this.#refused].map(([sentinel, why]) => refusal(sentinel, why)).join('; ')
  }

  /** Sentinels followed now (subscribed, connection ready) and refusing the subscription now, for `store_failover_watch_sentinels`. */
  counts(): { following: number; refused: number } {
    let following = 0
    for (const key of this.#subscribed) if (this.#subscribers.get(key)?.redis.status === 'ready') following++
    return { following, refused: this.#refused.size }
  }

  /** A rotated password: the next connections use it, and refused subscriptions try again with it. */
  renewPassword(password: string): void {
    this.#password = password
    for (const { redis } of this.#subscribers.values()) redis.options.password = password
    this.#retryRefused()
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#retry)
    for (const { redis } of this.#subscribers.values()) redis.disconnect()
  }

  #subscribe(key: string, redis: Redis): void {
    redis.subscribe(CHANNEL).then(
      () => {
        this.#refused.delete(key)
        this.#subscribed.add(key)
      },
      (e: unknown) => {
        // Only the Sentinel's own answer is a refusal: a connection closed by stop() is not.
        if (!this.#stopped && e instanceof Error && e.name === 'ReplyError') this.#refuse(key, e.message)
      },
    )
  }

  /** Keeps the Sentinel's refusal, telling it when it is new. */
  #refuse(key: string, why: string): void {
    const first = !this.#refused.has(key)
    this.#refused.set(key, why)
    this.#subscribed.delete(key)
    if (first) this.o.onRefused?.(refusal(key, why))
  }

  #retryRefused(): void {
    for (const key of this.#refused.keys()) {
      const s = this.#subscribers.get(key)
      if (s !== undefined) this.#subscribe(key, s.redis)
    }
  }

  /** `SENTINEL sentinels <name>` at `address`, on a connection of its own (a subscribed one runs no other command). */
  async #sentinelsNamedBy(address: RedisAddress): Promise<NamedSentinels> {
    const redis = this.o.connect(this.#options(address, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: this.o.connectTimeoutMs }))
    redis.on('error', () => undefined)
    try {
      return readSentinels(await redis.call('SENTINEL', 'sentinels', this.o.primaryName))
    } finally {
      redis.disconnect()
    }
  }

  #options(address: RedisAddress, extra: RedisOptions): RedisOptions {
    // Client options (not per request).
    return {
      host: address.host,
      port: address.port,
      ...(this.o.sentinelUsername !== undefined ? { username: this.o.sentinelUsername } : {}),
      ...(this.#password !== undefined ? { password: this.#password } : {}),
      ...(this.o.tls !== undefined ? { tls: this.o.tls } : {}),
      connectTimeout: this.o.connectTimeoutMs,
      // As ioredis's own Sentinel connections: a Sentinel user need not be allowed INFO.
      enableReadyCheck: false,
      ...NO_SERVER_HANDOFF,
      ...extra,
    }
  }
}

/** What a refused subscription costs, naming the Sentinel and its answer (never a password). */
function refusal(sentinel: string, why: string): string {
  return `Sentinel ${sentinel} refuses SUBSCRIBE ${CHANNEL} (${why}): a failover it announces is followed only when the old primary is demoted (seconds later; meanwhile writes may land on it). ` +
    `Grant the Sentinel user (store.redis.sentinel.username) +subscribe and &${CHANNEL}, or fix store.redis.sentinel.password`
}

/** A `SENTINEL sentinels` reply read: the Sentinels to follow, and how many it named flagged `disconnected`. */
interface NamedSentinels {
  reachable: RedisAddress[]
  disconnected: number
}

/** The reachable Sentinels in a `SENTINEL sentinels` reply (flat field lists), as ioredis reads them (not flagged `disconnected`), and how many were. */
function readSentinels(reply: unknown): NamedSentinels {
  const named: NamedSentinels = { reachable: [], disconnected: 0 }
  if (!Array.isArray(reply)) return named
  const out = named.reachable
  for (const entry of reply) {
    if (!Array.isArray(entry)) continue
    const f = new Map<string, string>()
    for (let i = 0; i + 1 < entry.length; i += 2) f.set(String(entry[i]), String(entry[i + 1]))
    const host = f.get('ip')
    const port = Number(f.get('port'))
    if (host === undefined || host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) continue
    if ((f.get('flags') ?? '').split(',').includes('disconnected')) {
      named.disconnected++
      continue
    }
    out.push({ host, port })
  }
  return named
}
