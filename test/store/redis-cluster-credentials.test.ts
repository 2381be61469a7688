/**
 * A Redis Cluster that refuses the gateway's credentials: requests that need the store get 503
 * store_unavailable, and the access line's `error` and the /readyz note name Redis's refusal and
 * the config key to fix (`store.redis.password`), never the password. Before, the Cluster client's
 * "Failed to refresh slots cache." was all they said (the node's WRONGPASS was hidden in it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { rawClient, startRedisCluster, type RedisCluster } from '../support/redis-servers.js'
import { eventually, get, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, partnerEndpointYaml, stopAll } from './redis-gateway-support.js'

const SERVER_PASSWORD = 'cluster-server-password-5'
const WRONG = 'cluster-wrong-password-6'

let pki: TestPki
let cluster: RedisCluster
const gateways: OpsGateway[] = []

beforeAll(async () => {
  ;[pki, cluster] = await Promise.all([createTestPki(), startRedisCluster(3)])
  for (const n of cluster.nodes) {
    const c = rawClient(n.port)
    try {
      await c.config('SET', 'requirepass', SERVER_PASSWORD)
    } finally {
      c.disconnect()
    }
  }
})

afterAll(async () => {
  for (const g of gateways) await g.gw.close()
  await stopAll(undefined, cluster, pki)
})

async function refusedAs(password: string, expected: RegExp): Promise<void> {
  const seed = `"127.0.0.1:${(cluster.nodes[0] as { port: number }).port}"`
  const yaml = `store: { kind: redis, keyPrefix: "credentials:", redis: { ${password} cluster: { nodes: [${seed}] }, commandTimeout: 1500ms, connectTimeout: 1s } }\n${CALLERS}endpoints:\n${partnerEndpointYaml(9, pki)}`
  const g = await startOpsGateway(pki.dir, yaml, { watch: false })
  gateways.push(g)
  expect((await exchangeToken(g.gw.url)).status).toBe(503)
  await eventually(() => g.access().length === 1, 10_000, 'the access line')
  expect(String(g.access()[0]?.error)).toMatch(expected)
  const readyz = JSON.parse((await get(`${g.adminUrl}/readyz`)).text) as { notes?: string[] }
  expect(readyz.notes?.find((n) => n.startsWith('store: '))).toMatch(expected)
  for (const secret of [SERVER_PASSWORD, WRONG]) expect(g.lines.join('\n')).not.toContain(secret)
}

describe('a Cluster refusing the credentials', () => {
  it('a wrong password: WRONGPASS, at store.redis.password', async () => {
    await refusedAs(`password: "${WRONG}",`, /refuses the gateway's credentials \(WRONGPASS [^)]*\): check store\.redis\.password$/)
  })

  it('no password: NOAUTH, at store.redis.password (none is set)', async () => {
    await refusedAs('', /refuses the gateway's credentials \(NOAUTH [^)]*\): check store\.redis\.password \(none is set\)$/)
  })
})
