/**
 * A Cluster primary restarted with nothing on disk (its volume kept only nodes.conf: the same node,
 * the same slots, no keys) while the gateway runs: the keys of its slots are gone. The operator is
 * told as for one server (redis-restart.test.ts): one warning, when the store reconnects to that
 * primary, naming it; the other primaries, reconnected or not, are not named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisCluster, type RedisCluster } from '../support/redis-servers.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, stopAll } from './redis-gateway-support.js'

const WARNING = "the store's Redis is another server than before (restarted or failed over)"
let pki: TestPki
let cluster: RedisCluster
let g: OpsGateway

beforeAll(async () => {
  ;[cluster, pki] = await Promise.all([startRedisCluster(3), createTestPki()])
  const nodes = cluster.nodes.map((n) => `"127.0.0.1:${n.port}"`).join(', ')
  g = await startOpsGateway(pki.dir, `store: { kind: redis, keyPrefix: "cluster-restart:", redis: { cluster: { nodes: [${nodes}] }, commandTimeout: 1500ms } }\n${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
})

afterAll(() => stopAll(g, cluster, pki))

const warnings = (): { problem: string }[] => g.lines.map((l) => JSON.parse(l) as { msg: string; problem: string }).filter((e) => e.msg === WARNING)

/** Keys on one node (the gateway's only: the cluster is the test's own). */
async function keyCount(port: number): Promise<number> {
  const c = rawClient(port)
  try {
    return await c.dbsize()
  } finally {
    c.disconnect()
  }
}

describe('a Redis Cluster primary restarted with its data lost', () => {
  it('one warning naming that primary when the store reconnects to it; exchanges work again', async () => {
    const restarted = cluster.nodes[1]?.port ?? 0
    // Until the gateway has written to it, the store has not connected to that primary.
    await eventually(async () => (await exchangeToken(g.gw.url)).status === 200 && (await keyCount(restarted)) > 0, 30_000, 'a key on the primary to restart')
    expect(warnings()).toEqual([])
    await cluster.restartEmpty(1)
    expect(await keyCount(restarted)).toBe(0)
    // Exchanges land on every primary: one soon reaches the restarted one.
    const warned = await eventually(async () => {
      await exchangeToken(g.gw.url)
      return warnings()[0]
    }, 40_000, 'the warning after the reconnect')
    expect(warned.problem).toMatch(new RegExp(`^redis store cluster 127\\.0\\.0\\.1:\\d+(,127\\.0\\.0\\.1:\\d+)*: the primary 127\\.0\\.0\\.1:${restarted} is another server process than before this reconnect \\(run_id \\w+ → \\w+: a restart, or a failover\\)\\. A server restarted with nothing on disk has lost every key of its slots: bearers`))
    await eventually(async () => (await exchangeToken(g.gw.url)).status === 200 && (await keyCount(restarted)) > 0, 30_000, 'exchanges writing to the restarted primary')
    expect(warnings()).toHaveLength(1)
  }, 120_000)
})
