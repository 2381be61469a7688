import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore, openRedisStore, openSqliteStore, type Store } from '../../src/store/index.js'

/** The shared Redis the peer tests use; several test files may hit it at once. */
export const REDIS_URL = process.env.MTLS_GATEWAY_TEST_REDIS ?? 'redis://127.0.0.1:6379'

/** One test's view of a backend: a store, a second instance on the same data, a restart. */
export interface StoreHarness {
  store: Store
  /** Another instance sharing the data (a second process's connection / a second replica); undefined for memory. */
  openPeer(): Store | undefined
  /** Closes `store` and opens a fresh instance on the same data (restart); undefined for memory. */
  reopen(): Promise<Store | undefined>
  cleanup(): Promise<void>
}

/** A backend the store contract runs against. */
export interface StoreBackend {
  readonly name: 'sqlite' | 'redis' | 'memory'
  setup(): Promise<StoreHarness>
}

/** A unique Redis key prefix, so parallel tests never see each other's keys. */
export function uniqueRedisPrefix(): string {
  return `mtls-gateway-test:${randomUUID()}:`
}

/** Deletes every key under a Redis prefix (SCAN through the store itself). */
export async function wipeRedisPrefix(keyPrefix: string): Promise<void> {
  const s = openRedisStore({ url: REDIS_URL, keyPrefix })
  try {
    for (const k of await s.keys('')) await s.delete(k)
  } finally {
    await s.close()
  }
}

function harness(open: () => Store, shared: boolean, wipe: () => Promise<void>): StoreHarness {
  const opened: Store[] = []
  const track = (s: Store): Store => (opened.push(s), s)
  const h: StoreHarness = {
    store: track(open()),
    openPeer: () => (shared ? track(open()) : undefined),
    async reopen() {
      if (!shared) return undefined
      await h.store.close()
      h.store = track(open())
      return h.store
    },
    async cleanup() {
      for (const s of opened) await s.close()
      await wipe()
    },
  }
  return h
}

/** SQLite on a real file in a fresh temp dir, Redis under a fresh prefix, and memory. */
export const STORE_BACKENDS: readonly StoreBackend[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'store-sqlite-'))
      const file = join(dir, 'nested', 'state.db')
      return harness(() => openSqliteStore({ file }), true, async () => rmSync(dir, { recursive: true, force: true }))
    },
  },
  {
    name: 'redis',
    async setup() {
      const keyPrefix = uniqueRedisPrefix()
      return harness(() => openRedisStore({ url: REDIS_URL, keyPrefix }), true, () => wipeRedisPrefix(keyPrefix))
    },
  },
  {
    name: 'memory',
    async setup() {
      return harness(() => new MemoryStore(), false, async () => undefined)
    },
  },
]
