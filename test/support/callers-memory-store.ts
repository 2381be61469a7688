import type { BoundedIncrement, Store, WeightedCounter } from '../../src/store/store.js'
import { countOf, weighsUnder } from '../../src/store/counter-bound.js'

/** A tiny in-memory Store for the caller tests; counts writes so tests can prove "not persisted". */
export class CallersMemoryStore implements Store {
  readonly #data = new Map<string, { value: string; expiresAt: number }>()
  writes = 0
  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | undefined> {
    const e = this.#data.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt <= this.now()) {
      this.#data.delete(key)
      return undefined
    }
    return e.value
  }
  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    this.writes++
    this.#data.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs })
  }
  async putIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if ((await this.get(key)) !== undefined) return false
    await this.put(key, value, ttlMs)
    return true
  }
  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const live = this.#data.get(key)
    const fresh = live === undefined || live.expiresAt <= this.now()
    // A counter below 0 counts from 0, as every Store's does.
    const value = (fresh ? 0 : Math.max(0, Number(live.value))) + by
    this.writes++
    // The TTL only when the counter is created, as every Store does.
    this.#data.set(key, { value: String(value), expiresAt: fresh ? (ttlMs === undefined ? Infinity : this.now() + ttlMs) : live.expiresAt })
    return value
  }
  async incrementIfUnder(counters: readonly WeightedCounter[], bound: number, ttlMs: number): Promise<BoundedIncrement> {
    // Read and added in one synchronous turn (increment awaits nothing), atomic as every Store's.
    const counts = counters.map(({ key }) => {
      const e = this.#data.get(key)
      return countOf(e === undefined || e.expiresAt <= this.now() ? undefined : e.value)
    })
    const added = weighsUnder(counts, counters, bound)
    if (added) void this.increment((counters[0] as WeightedCounter).key, 1, ttlMs)
    return { added, counts }
  }
  /** A call that fails wrote nothing (each runs in one synchronous turn). */
  mayHaveLanded(): boolean {
    return false
  }
  async decrementIfPositive(key: string): Promise<number | undefined> {
    const value = Number(await this.get(key))
    if (!(value > 0)) return undefined
    const e = this.#data.get(key) as { value: string; expiresAt: number }
    this.writes++
    e.value = String(value - 1)
    return value - 1
  }
  async replaceIfUnchanged(key: string, expected: string, replacement: string | undefined, ttlMs?: number): Promise<boolean> {
    const live = this.#data.get(key)
    if ((await this.get(key)) !== expected || live === undefined) return false
    this.writes++
    if (replacement === undefined) this.#data.delete(key)
    else this.#data.set(key, { value: replacement, expiresAt: ttlMs === undefined ? live.expiresAt : this.now() + ttlMs })
    return true
  }
  async delete(key: string): Promise<boolean> {
    const had = (await this.get(key)) !== undefined
    this.#data.delete(key)
    return had
  }
  async take(key: string): Promise<string | undefined> {
    const v = await this.get(key)
    this.#data.delete(key)
    return v
  }
  async keys(prefix: string): Promise<string[]> {
    const out: string[] = []
    for (const k of this.#data.keys()) if (k.startsWith(prefix) && (await this.get(k)) !== undefined) out.push(k)
    return out
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
