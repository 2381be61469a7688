/**
 * A Redis whose `maxmemory-policy` may evict the gateway's keys (bearers, `jti` replay entries,
 * throttle counters) is told to the operator: a warning in the log each time the store connects
 * (a reconnect to a new primary included), a note on /readyz (never a reason: the store answers)
 * and `mtls_gateway_store_eviction_allowed` 1, which the chart's alert watches; `noeviction` clears both.
 * INFO memory is read, not CONFIG GET (disabled on managed Redis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'

const WARNING = "the store's Redis may evict the gateway's keys"
let pki: TestPki
let redis: Peer
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  redis = await startRedisServer({ conf: () => 'maxmemory 64mb\nmaxmemory-policy allkeys-lru\n' })
  const callers = `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n`
  g = await startOpsGateway(pki.dir, `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "memory-policy:" }\n${callers}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
}, 60_000)

afterAll(async () => {
  await g?.gw.close()
  await redis?.stop()
  pki?.cleanup()
}, 30_000)

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
})
