/**
 * A Redis Cluster resharded to a node added to it, invisible to the store: a slot of the store's keys
 * migrates (IMPORTING/MIGRATING, MIGRATE of its keys, SETSLOT NODE) to a fourth node on a Cluster
 * that speaks TLS only (client certificates required) and requires a password. While the newcomer
 * owns no slot CLUSTER SLOTS leaves it out, and its owner answers ASK toward it: the store follows
 * the ASK (ASKING and the write on a connection made for the newcomer, with the TLS and password of
 * every other node). Before, it followed a redirect only to a node of its slot map, so every write of
 * a new key in the slot failed `store_unavailable` until the slot changed hands.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRedisStore, type RedisStore } from '../../src/store/index.js'
import { hashTagLayout } from '../../src/store/redis-keys.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startRedisCluster, type RedisCluster, type RedisServerTls } from '../support/redis-servers.js'
import { adminClient, migrateToNewcomer, type Migration, type NodeSecurity } from './redis-cluster-newcomer.js'

const PREFIX = 'reshard-newcomer:'
const PASSWORD = 'reshard-newcomer-password-7'
/** One hash-tag group: every key below lands in its slot, the one migrating. */
const GROUP = 'oauth1:token:resharded'

let pki: TestPki
let cluster: RedisCluster
let security: NodeSecurity
let store: RedisStore
let migration: Migration | undefined

beforeAll(async () => {
  pki = await createTestPki()
  const tls: RedisServerTls = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), clientCert: pki.write('client-chain.crt', pki.client.pem + pki.inter.pem), clientKey: pki.file('client.key') }
  cluster = await startRedisCluster(3, tls)
  security = { tls, password: PASSWORD }
  for (const n of cluster.nodes) {
    const c = adminClient(n.port, { tls })
    try {
      await c.config('SET', 'requirepass', PASSWORD)
    } finally {
      c.disconnect()
    }
  }
  store = openRedisStore({
    cluster: { nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) },
    keyPrefix: PREFIX,
    password: PASSWORD,
    tls: { ca: pki.root.pem, cert: readFileSync(tls.clientCert as string, 'utf8'), key: readFileSync(pki.file('client.key'), 'utf8'), serverName: 'localhost' },
    commandTimeoutMs: 3000,
  })
}, 120_000)

afterAll(async () => {
  await store?.close()
  await migration?.stop()
  await cluster?.stop()
  pki?.cleanup()
})

/** Every kind of store write on new keys of the group, and what each must answer. */
async function writesOnNewKeys(phase: string): Promise<void> {
  const key = (name: string): string => `${GROUP}:${phase}:${name}`
  await store.put(key('put'), 'v1', 600_000)
  expect(await store.get(key('put'))).toBe('v1')
  expect(await store.putIfAbsent(key('absent'), 'first', 600_000)).toBe(true)
  expect(await store.putIfAbsent(key('absent'), 'second', 600_000)).toBe(false)
  expect(await store.increment(key('count'), 2, 600_000)).toBe(2)
  expect(await store.decrementIfPositive(key('count'))).toBe(1)
  expect(await store.replaceIfUnchanged(key('put'), 'v1', 'v2', 600_000)).toBe(true)
  expect(await store.incrementIfUnder([{ key: key('take'), weight: 1 }], 10, 600_000)).toMatchObject({ added: true })
  await store.put(key('once'), 'state', 600_000)
  expect([await store.take(key('once')), await store.take(key('once'))]).toEqual(['state', undefined])
  expect(await store.delete(key('absent'))).toBe(true)
}

describe('a Redis Cluster (TLS, password) resharded to an added node', () => {
  it('every write goes through while the slot migrates (ASK to the newcomer), once its keys moved, and after it changed hands (MOVED)', async () => {
    await store.put(`${GROUP}:before:kept`, 'kept', 600_000)
    migration = await migrateToNewcomer(cluster, hashTagLayout(PREFIX).toRedis(`${GROUP}:x`), security)
    const slot = String(migration.slot)

    await writesOnNewKeys('migrating')
    // The new keys are on the newcomer (ASK followed), the old one still on its owner.
    expect(await migration.atNewcomer.call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBeGreaterThan(0)
    expect(await migration.atOwner.call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(1)

    await migration.moveKeys()
    expect(await migration.atOwner.call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0)
    await writesOnNewKeys('moved')
    expect(await store.take(`${GROUP}:before:kept`)).toBe('kept')

    await migration.finish()
    await writesOnNewKeys('owned')
    expect(await store.keys(`${GROUP}:owned:`)).toEqual([`${GROUP}:owned:count`, `${GROUP}:owned:put`, `${GROUP}:owned:take`])
  }, 120_000)
})
