import { Redis } from 'ioredis'
import { GatewayError } from '../errors.js'
import type { Store } from './store.js'
import { normalizeTtl } from './ttl.js'

/** Options of the Redis store (several replicas sharing tokens and the `jti` cache). */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string
  /** Prepended to every key so the gateway can share a Redis with others; default `mtls-gateway:`. */
  keyPrefix?: string
  /** Longest wait for one command, queued or in flight, ms: a down Redis fails a request, never hangs it. */
  commandTimeoutMs?: number
  /** Longest wait for the TCP/TLS connection, ms. */
  connectTimeoutMs?: number
}

const SCAN_COUNT = 500

/** A Store on Redis ≥ 6.2 (GETDEL); Redis does expiry itself, so nothing is purged here. */
export class RedisStore implements Store {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #where: string
  #lastError: Error | undefined
  #closed = false

  constructor(options: RedisStoreOptions) {
    this.#where = describeUrl(options.url)
    this.#prefix = options.keyPrefix ?? 'mtls-gateway:'
    this.#redis = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 3000,
      // Commands queued while (re)connecting are failed after one unsuccessful reconnect
      // instead of the default twenty, so a down Redis answers within about a second.
      maxRetriesPerRequest: 1,
      // Keep reconnecting forever (capped backoff): the store recovers when Redis returns.
      retryStrategy: (times) => Math.min(times * 200, 2000),
      enableOfflineQueue: true,
      // A command whose reply was lost with the connection fails (by commandTimeout) rather
      // than being re-run: a resent GETDEL or SET NX would report our own first run as "taken".
      autoResendUnfulfilledCommands: false,
    })
    // Without a listener ioredis prints every reconnect failure; keep the last for messages.
    this.#redis.on('error', (e: Error) => {
      this.#lastError = e
    })
    this.#redis.on('ready', () => {
      this.#lastError = undefined
    })
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#run('get', () => this.#redis.get(this.#prefix + key))) ?? undefined
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    const ttl = normalizeTtl(ttlMs)
    const k = this.#prefix + key
    await this.#run('put', () => (ttl === undefined ? this.#redis.set(k, value) : this.#redis.set(k, value, 'PX', ttl)))
  }

  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs)
    const k = this.#prefix + key
    const reply = await this.#run('putIfAbsent', () =>
      ttl === undefined ? this.#redis.set(k, value, 'NX') : this.#redis.set(k, value, 'PX', ttl, 'NX'),
    )
    return reply === 'OK'
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#run('delete', () => this.#redis.del(this.#prefix + key))) > 0
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.#run('take', () => this.#redis.getdel(this.#prefix + key))) ?? undefined
  }

  async keys(prefix: string): Promise<string[]> {
    const pattern = escapeGlob(this.#prefix + prefix) + '*'
    const found = new Set<string>()
    let cursor = '0'
    do {
      // SCAN, never KEYS: KEYS blocks the whole server on a large keyspace.
      const [next, batch] = await this.#run('keys', () =>
        this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT),
      )
      // SCAN may return a key twice; the Set makes the answer exact.
      for (const k of batch) found.add(k.slice(this.#prefix.length))
      cursor = next
    } while (cursor !== '0')
    return [...found].sort()
  }

  async ping(): Promise<void> {
    await this.#run('ping', () => this.#redis.ping())
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#redis.status === 'ready') {
      // QUIT lets commands already sent finish; fall back to a hard disconnect.
      await this.#redis.quit().catch(() => this.#redis.disconnect())
    } else {
      this.#redis.disconnect()
    }
  }

  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new GatewayError('unavailable', `redis store ${this.#where}: ${op} after close`)
    try {
      return await fn()
    } catch (e) {
      throw this.#failure(op, e)
    }
  }

  #failure(op: string, e: unknown): GatewayError {
    const why = e instanceof Error ? e.message : String(e)
    const status = this.#redis.status
    if (status !== 'ready') {
      // ioredis's own error ("max retries", "timed out") says less than the connection's.
      const conn = this.#lastError?.message ?? `${why} while ${status === 'connect' ? 'handshaking' : status}`
      return new GatewayError('unavailable', `redis store ${this.#where} is unreachable (${conn}): ${op} failed`, { cause: e })
    }
    return new GatewayError('unavailable', `redis store ${this.#where}: ${op} failed: ${why}`, { cause: e })
  }
}

/** The URL without credentials, for messages. */
function describeUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    // Never echo the text: it may carry a password.
    throw new TypeError('redis store: url is not a valid URL (expected redis://host:port)')
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new TypeError(`redis store: url scheme must be redis: or rediss:, got ${u.protocol}`)
  }
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
}

/** Escapes Redis glob metacharacters so a prefix matches literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, '\\$&')
}

/** Connects (lazily, in the background) to the Redis at `options.url`. */
export function openRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options)
}
