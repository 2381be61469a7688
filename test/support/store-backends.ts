import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore, openRedisStore, openSqliteStore, type RedisStoreOptions, type Store } from '../../src/store/index.js'
import { createTestPki, type TestPki } from './pki.js'
import type { Peer } from './peers.js'
import { startRedisCluster, startRedisServer, type RedisCluster } from './redis-servers.js'

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
  readonly name: 'sqlite' | 'redis' | 'memory' | 'redis-cluster' | 'redis-tls'
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

/** Deletes every key a store lists (its prefix's keys), through a fresh instance. */
async function wipeThrough(open: () => Store): Promise<void> {
  const s = open()
  try {
    for (const k of await s.keys('')) await s.delete(k)
  } finally {
    await s.close()
  }
}

// The Cluster and the TLS server are started once per test file, on first use.
let cluster: Promise<RedisCluster> | undefined
let tlsServer: Promise<{ server: Peer; pki: TestPki }> | undefined

/** Redis options for a three-primary Cluster the tests start. */
export async function clusterStoreOptions(keyPrefix: string): Promise<RedisStoreOptions> {
  cluster ??= startRedisCluster(3)
  const { nodes } = await cluster
  return { cluster: { nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) }, keyPrefix }
}

/** Redis options for a server that speaks only TLS and requires a client certificate. */
export async function tlsStoreOptions(keyPrefix: string): Promise<RedisStoreOptions> {
  tlsServer ??= (async () => {
    const pki = await createTestPki()
    const server = await startRedisServer({ tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') } })
    return { server, pki }
  })()
  const { server, pki } = await tlsServer
  return {
    url: `rediss://127.0.0.1:${server.port}`,
    // The certificate names "localhost": the name is checked, not the address dialled.
    tls: { ca: pki.root.pem, cert: pki.client.pem + pki.inter.pem, key: readFileSync(pki.file('client.key'), 'utf8'), serverName: 'localhost' },
    keyPrefix,
  }
}

/** Stops the servers this file's backends started (call in afterAll). */
export async function stopStoreServers(): Promise<void> {
  const [c, t] = [cluster, tlsServer]
  cluster = tlsServer = undefined
  await (await c?.catch(() => undefined))?.stop()
  const tls = await t?.catch(() => undefined)
  await tls?.server.stop()
  tls?.pki.cleanup()
}

function redisBackend(name: 'redis-cluster' | 'redis-tls', options: (keyPrefix: string) => Promise<RedisStoreOptions>): StoreBackend {
  return {
    name,
    async setup() {
      const o = await options(uniqueRedisPrefix())
      const open = (): Store => openRedisStore(o)
      return harness(open, true, () => wipeThrough(open))
    },
  }
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
  redisBackend('redis-cluster', clusterStoreOptions),
  redisBackend('redis-tls', tlsStoreOptions),
]
