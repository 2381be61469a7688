/**
 * A Redis Cluster that is down (a primary killed, no replica to promote: its slots fail, then every
 * node reports cluster_state:fail and answers CLUSTERDOWN, yet PING) is reported down: store_up 0
 * and a /readyz note naming a primary, at every probe while it lasts, up again once the primary is
 * back. Before, the probe was one PING through the Cluster client, which a node answers in CLUSTERDOWN.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisCluster, type RedisCluster } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, stopAll } from './redis-gateway-support.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let cluster: RedisCluster
let g: OpsGateway

beforeAll(async () => {
  ;[cluster, pki] = await Promise.all([startRedisCluster(3), createTestPki()])
  // One seed node, as an operator may give: the client learns the others from it.
  const seed = (cluster.nodes[0] as Peer).port
  g = await startOpsGateway(pki.dir, `store: { kind: redis, keyPrefix: "cluster-down:", redis: { cluster: { nodes: ["127.0.0.1:${seed}"] }, commandTimeout: 1500ms } }\n${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
})

afterAll(() => stopAll(g, cluster, pki))

interface Readiness { status: string; notes?: string[] }
const readyz = async (): Promise<Readiness> => JSON.parse((await get(`${g.adminUrl}/readyz`)).text) as Readiness
const storeUp = async (): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')

async function clusterState(port: number): Promise<string | undefined> {
  const c = rawClient(port)
  try {
    return /^cluster_state:(\w+)/m.exec(String(await c.call('CLUSTER', 'INFO')))?.[1]
  } finally {
    c.disconnect()
  }
}

describe('a Redis Cluster that is down', () => {
  it('store_up 0 and a /readyz note naming a primary at every probe while cluster_state is fail; up again once the primary is back', async () => {
    const seed = (cluster.nodes[0] as Peer).port
    const victim = cluster.nodes[1] as Peer
    await eventually(async () => (await exchangeToken(g.gw.url)).status === 200, 30_000, 'a first exchange')
    expect(await readyz()).toEqual({ status: 'ready' })
    expect(await storeUp()).toBe(1)

    sendSignal(victim.pid, 'SIGKILL')
    await eventually(async () => (await clusterState(seed)) === 'fail', 40_000, 'cluster_state:fail at the seed node')
    const exchange = await exchangeToken(g.gw.url)
    expect(exchange.status).toBe(503)
    const said = new RegExp(`^store: redis store cluster 127\\.0\\.0\\.1:${seed}: (ping failed: the primary 127\\.0\\.0\\.1:\\d+: |the primary 127\\.0\\.0\\.1:\\d+ reports cluster_state:fail)`)
    // Every probe, not some: a node answers PING in CLUSTERDOWN, so one ping reached the wrong node at random before.
    for (let probe = 0; probe < 5; probe++) {
      const ready = await readyz()
      expect(ready.status).toBe('ready')
      expect(ready.notes).toEqual([expect.stringMatching(said)])
      expect(await storeUp()).toBe(0)
    }

    await cluster.restartEmpty(1)
    await eventually(async () => (await storeUp()) === 1, 40_000, 'store_up 1 once the primary is back')
    expect(await readyz()).toEqual({ status: 'ready' })
    await eventually(async () => (await exchangeToken(g.gw.url)).status === 200, 30_000, 'an exchange once the primary is back')
  }, 180_000)
})
