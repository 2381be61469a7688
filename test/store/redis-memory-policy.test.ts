/**
 * A Redis whose `maxmemory-policy` may evict the gateway's keys (bearers, `jti` replay entries,
 * throttle counters) is told to the operator: a warning in the log each time the store connects
 * (a reconnect to a new primary included), a note on /readyz (never a reason: the store answers)
 * and `mtls_gateway_store_eviction_allowed` 1, which the chart's alert watches; `noeviction` clears both.
 * INFO memory is read, not CONFIG GET (disabled on managed Redis).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisCluster, startRedisServer } from '../support/redis-servers.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import { openRedisStore } from '../../src/store/index.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, stopAll } from './redis-gateway-support.js'

const WARNING = "the store's Redis may evict the gateway's keys"
let pki: TestPki
let redis: Peer
let g: OpsGateway
let config: string

beforeAll(async () => {
  pki = await createTestPki()
  redis = await startRedisServer({ conf: () => 'maxmemory 64mb\nmaxmemory-policy allkeys-lru\n' })
  config = `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "memory-policy:" }\n${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`
  g = await startOpsGateway(pki.dir, config, { watch: false })
})

afterAll(() => stopAll(g, redis, pki))

const readyz = async (): Promise<{ status: number; body: { status: string; notes?: string[] } }> => {
  const r = await get(`${g.adminUrl}/readyz`)
  return { status: r.status, body: JSON.parse(r.text) as { status: string; notes?: string[] } }
}
const warnings = (): { problem: string }[] => g.lines.map((l) => JSON.parse(l) as { msg: string; problem: string; level: number }).filter((e) => e.msg === WARNING)
const evictionAllowed = async (): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_eviction_allowed')

describe('Redis maxmemory-policy', () => {
  it('allkeys-lru: warned at connect, noted on /readyz, gauge 1; noeviction clears them; a reconnect checks again', async () => {
    const where = `redis store redis://127.0.0.1:${redis.port}`
    const said = (policy: string): string => `${where}: the primary 127.0.0.1:${redis.port} has maxmemory-policy ${policy}`
    const first = await eventually(() => warnings()[0], 20_000, 'the warning at connect')
    expect(first.problem).toContain(said('allkeys-lru'))
    expect(first.problem).toContain('set maxmemory-policy noeviction')
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', notes: [expect.stringContaining(`store memory policy: ${said('allkeys-lru')}`)] } })
    expect(await evictionAllowed()).toBe(1)
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')).toBe(1)

    const admin = rawClient(redis.port)
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction')
      expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } })
      expect(await evictionAllowed()).toBe(0)
      // A new primary (here: the same server, its clients dropped) is checked again when the store reconnects.
      await admin.config('SET', 'maxmemory-policy', 'volatile-ttl')
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      const again = await eventually(() => warnings().find((w) => w.problem.includes('volatile-ttl')), 20_000, 'the warning after the reconnect')
      expect(again.problem).toContain(said('volatile-ttl'))
      expect(warnings()).toHaveLength(2)
    } finally {
      admin.disconnect()
    }
  })

  it('--workers 2: each worker warns and notes it on the primary\'s /readyz; the instance\'s gauge is 1', async () => {
    const admin = rawClient(redis.port)
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lfu')
    admin.disconnect()
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n${config}`)
    const gp = await spawnGateway(file, ['--workers', '2'])
    try {
      const adminUrl = await adminUrlOf(gp)
      const noted = await eventually(async () => {
        const r = JSON.parse((await get(`${adminUrl}/readyz`)).text) as { status: string; notes?: string[] }
        return r.notes?.length === 2 && r
      }, 30_000, 'a note from each worker')
      expect(noted.status).toBe('ready')
      for (const n of noted.notes ?? []) expect(n).toMatch(/^worker \d+: store memory policy: redis store .*maxmemory-policy allkeys-lfu: /)
      expect(valueOf(await scrape(adminUrl), 'mtls_gateway_store_eviction_allowed')).toBe(1)
      const logged = await eventually(() => {
        const w = gp.logEntries().filter((e) => e.msg === WARNING)
        return w.length === 2 && w
      }, 30_000, 'a warning from each worker')
      expect(new Set(logged.map((e) => e.pid)).size).toBe(2)
    } finally {
      await gp.stop('SIGKILL')
    }
  }, 120_000)

  it('Cluster: every primary is read, the one that evicts is named', async () => {
    const cluster = await startRedisCluster(3)
    const [a, b, c] = cluster.nodes
    if (!a || !b || !c) throw new Error('three nodes')
    const told: string[] = []
    const admin = rawClient(b.port)
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
    admin.disconnect()
    const store = openRedisStore({ cluster: { nodes: [{ host: '127.0.0.1', port: a.port }] }, keyPrefix: 'memory-policy:', onConnectWarning: (w) => told.push(w.problem) })
    try {
      const risk = await store.evictionRisk()
      // Only the evicting primary is named (the seed node is the store's own name).
      expect(risk).toBe(
        `redis store cluster 127.0.0.1:${a.port}: primary 127.0.0.1:${b.port} has maxmemory-policy volatile-lru: under memory pressure Redis evicts any key it wrote with a TTL ` +
          '(bearers, jti replay entries: a replayed assertion then passes, throttle counters); set maxmemory-policy noeviction',
      )
      await eventually(() => told[0], 20_000, 'the warning at connect')
      const fix = rawClient(b.port)
      await fix.config('SET', 'maxmemory-policy', 'noeviction')
      fix.disconnect()
      expect(await store.evictionRisk()).toBeUndefined()
    } finally {
      await store.close()
      await cluster.stop()
    }
  }, 120_000)
})
