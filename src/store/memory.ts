import { GatewayError } from '../errors.js'
import { checkBound, countOf, weighsUnder } from './counter-bound.js'
import type { BoundedIncrement, Store, WeightedCounter } from './store.js'
import { expiryOf, normalizeStep } from './ttl.js'

/** Options of the in-process store. */
export interface MemoryStoreOptions {
  /** How often expired entries are dropped, ms; 0 disables the timer (reads still ignore them). */
  purgeIntervalMs?: number
}

interface Entry {
  value: string
  expiresAt: number | null
}

/**
 * A Store that never touches disk or network: for data that must not be persisted
 * (anonymous users' tokens) and for tests. One process only, lost on exit by design.
 */
export class MemoryStore implements Store {
  readonly #entries = new Map<string, Entry>()
  readonly #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: MemoryStoreOptions = {}) {
    const every = options.purgeIntervalMs ?? 60_000
    if (every > 0) {
      this.#timer = setInterval(() => this.purgeExpired(), every)
      this.#timer.unref()
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.#live(key, Date.now())?.value
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#assertOpen()
    this.#entries.set(key, { value, expiresAt: expiryOf(ttlMs, Date.now()) })
  }

  // Atomic without locks: the check and the write run in one synchronous turn of the event loop.
  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const now = Date.now()
    const expiresAt = expiryOf(ttlMs, now)
    if (this.#live(key, now) !== undefined) return false
    this.#entries.set(key, { value, expiresAt })
    return true
  }

  // Atomic for the same reason as putIfAbsent: read and write in one synchronous turn.
  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    return this.#increment(key, normalizeStep(by), ttlMs, Date.now())
  }

  // Atomic for the same reason: every counter read and the first one moved in one synchronous turn.
  async incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement> {
    checkBound(counters, bound)
    const now = Date.now()
    const counts = counters.map(({ key }) => countOf(this.#live(key, now)?.value))
    const added = weighsUnder(counts, counters, bound)
    if (added) this.#increment((counters[0] as WeightedCounter).key, 1, ttlMs, now)
    return { added, counts }
  }

  #increment(key: string, step: number, ttlMs: number | undefined, now: number): number {
    const expiresAt = expiryOf(ttlMs, now)
    const live = this.#live(key, now)
    const value = (live === undefined ? 0 : Math.max(0, Number.parseInt(live.value, 10) || 0)) + step
    // The TTL only on creation: a live counter keeps the expiry it was created with.
    this.#entries.set(key, { value: String(value), expiresAt: live === undefined ? expiresAt : live.expiresAt })
    return value
  }

  /** A call that fails (closed, misuse) wrote nothing: each runs in one synchronous turn. */
  readonly mayHaveLanded: Store['mayHaveLanded'] = () => false

  // Atomic for the same reason; the live entry keeps its expiry.
  async decrementIfPositive(key: string): Promise<number | undefined> {
    const live = this.#live(key, Date.now())
    const value = live === undefined ? 0 : Number.parseInt(live.value, 10) || 0
    if (live === undefined || value <= 0) return undefined
    live.value = String(value - 1)
    return value - 1
  }

  // Atomic for the same reason: compared and written in one synchronous turn.
  async replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean> {
    const now = Date.now()
    const live = this.#live(key, now)
    if (live?.value !== expected) return false
    if (replacement === undefined) this.#entries.delete(key)
    else this.#entries.set(key, { value: replacement, expiresAt: ttlMs === undefined ? live.expiresAt : expiryOf(ttlMs, now) })
    return true
  }

  async delete(key: string): Promise<boolean> {
    const live = this.#live(key, Date.now()) !== undefined
    this.#entries.delete(key)
    return live
  }

  async take(key: string): Promise<string | undefined> {
    const entry = this.#live(key, Date.now())
    this.#entries.delete(key)
    return entry?.value
  }

  async keys(prefix: string): Promise<string[]> {
    this.#assertOpen()
    const now = Date.now()
    return [...this.#entries.keys()].filter((k) => k.startsWith(prefix) && this.#live(k, now) !== undefined).sort()
  }

  async ping(): Promise<void> {
    this.#assertOpen()
  }

  /** Drops expired entries now; returns how many. */
  purgeExpired(): number {
    const now = Date.now()
    let n = 0
    for (const [key, e] of this.#entries) {
      if (e.expiresAt !== null && e.expiresAt <= now) {
        this.#entries.delete(key)
        n++
      }
    }
    return n
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#entries.clear()
  }

  #assertOpen(): void {
    // Same contract as the persistent stores: use after close is an error, not an empty store.
    if (this.#closed) throw new GatewayError('store_unavailable', 'memory store: used after close')
  }

  #live(key: string, now: number): Entry | undefined {
    this.#assertOpen()
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt !== null && e.expiresAt <= now) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }
}
