/**
 * Redis Cluster resharding under the gateway's traffic: every slot of one primary moves to another
 * (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE of its keys, SETSLOT NODE) while two gateways (one
 * whose writes wait for a replica, one whose do not) exchange assertions, use the bearers at the
 * other, replay the assertions there, and a store keeps and takes dance state. Each phase runs
 * traffic: new keys while the slots migrate (ASK to the importing node), old keys once moved (ASK),
 * then every key after the slots changed hands (MOVED). Nothing may fail, and nothing be lost or
 * accepted twice.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { openRedisStore, type Store } from '../../src/store/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import type { RunningServer } from '../support/tls-server.js'
import { rawClient, startRedisCluster, type RedisCluster } from '../support/redis-servers.js'
import { eventually } from '../support/eventually.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, partnerEndpointYaml, signAssertion, startUpstream } from './redis-gateway-support.js'

const PREFIX = `migration-${randomUUID()}:`
let cluster: RedisCluster
let pki: TestPki
let upstream: RunningServer
const gateways: OpsGateway[] = []
let danceStore: Store
const admins = new Map<number, Redis>()

const admin = (port: number): Redis => admins.get(port) ?? (admins.set(port, rawClient(port)).get(port) as Redis)

beforeAll(async () => {
  ;[cluster, pki] = await Promise.all([startRedisCluster(6, undefined, 1), createTestPki()])
  upstream = await startUpstream(pki)
  const nodes = `[${cluster.nodes.map((n) => `"127.0.0.1:${n.port}"`).join(', ')}]`
  for (const acknowledged of [1, 0]) {
    gateways.push(await startOpsGateway(pki.dir, `store:
  kind: redis
  keyPrefix: "${PREFIX}"
  redis: { cluster: { nodes: ${nodes} }, replicasToAcknowledge: ${acknowledged}, acknowledgeTimeout: 2s, commandTimeout: 3s }
${CALLERS}endpoints:
${partnerEndpointYaml(upstream.port, pki)}`, { watch: false }))
  }
  danceStore = openRedisStore({ cluster: { nodes: [{ host: '127.0.0.1', port: cluster.nodes[0]?.port ?? 0 }] }, keyPrefix: PREFIX, acknowledge: { replicas: 1, timeoutMs: 2000 }, commandTimeoutMs: 3000 })
})

afterAll(async () => {
  for (const g of gateways) await g.gw.close()
  await danceStore?.close()
  for (const c of admins.values()) c.disconnect()
  await upstream?.close()
  await cluster?.stop()
  pki?.cleanup()
})

interface ClusterNode {
  id: string
  port: number
  primary: boolean
  slots: number[]
}

/** CLUSTER NODES as one node sees it: ids, roles and each primary's slots. */
async function clusterNodes(): Promise<ClusterNode[]> {
  const text = String(await admin(cluster.nodes[0]?.port ?? 0).call('CLUSTER', 'NODES'))
  return text.trim().split('\n').map((line) => {
    const [id = '', address = '', flags = '', , , , , , ...ranges] = line.split(' ')
    const slots = ranges.filter((r) => !r.startsWith('[')).flatMap((r) => {
      const [from, to = from] = r.split('-').map(Number) as [number, number?]
      return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i)
    })
    return { id, port: Number(address.split(':')[1]?.split('@')[0]), primary: flags.includes('master'), slots }
  })
}

/** The gateway's keys on one server. */
async function keysOn(port: number): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await admin(port).scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000)
    found.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return found
}

interface Exchanged {
  assertion: string
  bearer: string
}

const failures: string[] = []
const exchanged: Exchanged[] = []
let rounds = 0

const bearerCall = (g: OpsGateway, bearer: string): Promise<number> => send(g.gw.url, '/proxy/partner/x', { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status)

/** One caller's round: exchange at one gateway, use and replay at the other, a dance's state kept and taken. */
async function round(i: number): Promise<void> {
  const [here, there] = i % 2 ? [gateways[0] as OpsGateway, gateways[1] as OpsGateway] : [gateways[1] as OpsGateway, gateways[0] as OpsGateway]
  const assertion = await signAssertion()
  const ex = await exchangeToken(here.gw.url, assertion)
  if (ex.status !== 200) return void failures.push(`exchange: ${ex.status} ${ex.text}`)
  const bearer = ex.json<{ access_token: string }>().access_token
  exchanged.push({ assertion, bearer })
  const used = await bearerCall(there, bearer)
  if (used !== 200) failures.push(`bearer at the other gateway: ${used}`)
  const replay = await exchangeToken(there.gw.url, assertion)
  if (replay.status !== 401) failures.push(`replay at the other gateway: ${replay.status} ${replay.text}`)
  const key = `oauth1:request:${randomUUID()}`
  const state = randomUUID()
  try {
    await danceStore.put(key, state, 600_000)
    const [taken, again] = [await danceStore.take(key), await danceStore.take(key)]
    if (taken !== state || again !== undefined) failures.push(`dance state: took ${String(taken)}, then ${String(again)}`)
  } catch (e) {
    failures.push(`dance state: ${String(e)}`)
  }
}

/** Runs rounds on `workers` callers until stopped. */
function traffic(workers: number): { stop(): Promise<void> } {
  let running = true
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; running; i += workers) {
      await round(i).catch((e: unknown) => failures.push(`round: ${String(e)}`))
      rounds++
    }
  })
  return { async stop() { running = false; await Promise.all(loops) } }
}

/** Lets `count` more rounds run (the traffic of one phase). */
const roundsMore = (count: number, phase: string): Promise<boolean> => {
  const until = rounds + count
  return eventually(() => rounds >= until, 40_000, `${count} rounds ${phase}`)
}

describe('Redis Cluster slot migration under the gateway\'s traffic', () => {
  it('moves every slot of one primary while exchanges, bearers, replays and dance state keep working; nothing lost or accepted twice', async () => {
    const load = traffic(3)
    try {
      await roundsMore(15, 'before the migration')
      const primaries = (await clusterNodes()).filter((n) => n.primary)
      const [from, to] = primaries as [ClusterNode, ClusterNode]
      // The documented order: the importing side first, so no window where the migrating side sends ASK to a node that refuses it.
      await admin(to.port).pipeline(from.slots.map((s) => ['cluster', 'setslot', String(s), 'importing', from.id])).exec()
      await admin(from.port).pipeline(from.slots.map((s) => ['cluster', 'setslot', String(s), 'migrating', to.id])).exec()
      await roundsMore(15, 'while the slots migrate (new keys: ASK)')
      await eventually(async () => {
        const keys = await keysOn(from.port)
        for (const key of keys) await admin(from.port).call('MIGRATE', '127.0.0.1', String(to.port), key, '0', '5000')
        return keys.length === 0
      }, 40_000, 'every key moved off the migrating primary')
      await roundsMore(15, 'with the keys moved (every key: ASK)')
      for (const node of [to, from, ...primaries.filter((n) => n !== to && n !== from)]) {
        await admin(node.port).pipeline(from.slots.map((s) => ['cluster', 'setslot', String(s), 'node', to.id])).exec()
      }
      await roundsMore(15, 'after the slots changed hands (MOVED)')
    } finally {
      await load.stop()
    }
    expect(failures).toEqual([])
    // Every bearer still works at both gateways, every assertion is still a replay there.
    for (const { assertion, bearer } of exchanged) {
      for (const g of gateways) {
        expect(await bearerCall(g, bearer)).toBe(200)
        expect((await exchangeToken(g.gw.url, assertion)).status).toBe(401)
      }
    }
    expect(new Set(exchanged.map((e) => e.bearer)).size).toBe(exchanged.length)
  }, 120_000)
})
