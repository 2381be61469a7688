/**
 * Redis restarted with nothing on disk while the gateway runs: its bearers are gone. The caller
 * is told plainly (401 bearer_unknown: exchange again), and the operator by one warning when the
 * store reconnects to the new server process (its run_id changed), naming what was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, stopAll } from './redis-gateway-support.js'

const WARNING = "the store's Redis is another server than before (restarted or failed over)"
let pki: TestPki
let redis: Peer
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  redis = await startRedisServer()
  g = await startOpsGateway(pki.dir, `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "restart:", redis: { commandTimeout: 1500ms } }\n${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
})

afterAll(() => stopAll(g, redis, pki))

const bearer = async (): Promise<string> => {
  const r = await exchangeToken(g.gw.url)
  expect(r.status).toBe(200)
  return r.json<{ access_token: string }>().access_token
}
const warnings = (): { problem: string }[] => g.lines.map((l) => JSON.parse(l) as { msg: string; problem: string }).filter((e) => e.msg === WARNING)

describe('Redis restarted with its data lost', () => {
  it('one warning naming the lost keys when the store reconnects; the old bearer is a plain 401 bearer_unknown, a new one works', async () => {
    const old = await bearer()
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up') === 1, 20_000, 'the store up')
    const port = redis.port
    await redis.stop()
    redis = await startRedisServer({ port })
    const warned = await eventually(() => warnings()[0], 30_000, 'the warning after the reconnect')
    expect(warned.problem).toMatch(new RegExp(`^redis store redis://127\\.0\\.0\\.1:${port}: the primary is another server process than before this reconnect \\(run_id \\w+ → \\w+: a restart, or a failover\\)\\. A server restarted with nothing on disk has lost every key: bearers`))
    const r = await send(g.gw.url, '/proxy/partner/x', { headers: { authorization: `Bearer ${old}` } })
    expect([r.status, r.json<{ errors: { msg: string }[] }>().errors[0]?.msg]).toEqual([401, 'bearer token is unknown or expired'])
    expect(await bearer()).not.toBe(old)
    expect(warnings()).toHaveLength(1)
  })
})
