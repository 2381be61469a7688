/**
 * Sentinel and Cluster over TLS, with real servers that speak TLS only (replication, the
 * Cluster bus and the Sentinels too) and require client certificates: the store writes and
 * reads through each, and a renewed client certificate (the files of `store.redis.tls`)
 * reaches the next connections on reload. For the renewal the servers are told to trust the
 * new certificate's CA instead of the old one and drop their clients: only a gateway that
 * reconnects with the renewed certificate gets through — through a Sentinel lookup, or to
 * every Cluster node. Sentinels may require client certificates too: they are rolled onto the
 * new CA (they cannot change TLS files at run time) before the servers drop the gateway, so its
 * next Sentinel lookup must present the renewed certificate; so must its `+switch-master`
 * subscriptions, through which it then follows a failover before the old primary is demoted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRedisStore, type RedisStoreOptions, type Store } from '../../src/store/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, rawClientTls, startRedisCluster, startSentinelSet, type RedisServerTls } from '../support/redis-servers.js'
import { eventually, get, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const FOLLOWED = "the store's Redis is another server than before (restarted or failed over)"

/** ioredis types CLIENT KILL with one filter at a time; Redis takes several (TYPE and SKIPME here). */
type ClientKill = { client(subcommand: 'KILL', ...filters: string[]): Promise<unknown> }

/** The servers' PKI (their certificates, and the client certificates they use between themselves), and the gateway's old and new client PKIs. */
let servers: TestPki
let oldClient: TestPki
let newClient: TestPki
let serverTls: RedisServerTls
const stops: (() => Promise<unknown> | void)[] = []

beforeAll(async () => {
  ;[servers, oldClient, newClient] = await Promise.all([createTestPki(), createTestPki(), createTestPki()])
  stops.push(() => servers.cleanup(), () => oldClient.cleanup(), () => newClient.cleanup())
  // One CA file serves both ways in Redis: the servers' own CA (replication, bus, Sentinels) and the gateway's.
  servers.write('trusted-old.crt', servers.root.pem + oldClient.root.pem)
  servers.write('trusted-new.crt', servers.root.pem + newClient.root.pem)
  serverTls = {
    cert: servers.file('server-chain.crt'),
    key: servers.file('server.key'),
    ca: servers.file('trusted-old.crt'),
    clientCert: servers.write('peer-client.crt', servers.client.pem + servers.inter.pem),
    clientKey: servers.file('client.key'),
  }
})

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** The gateway's TLS files, as `store.redis.tls` names them: the servers' CA, the old client certificate and key. */
function gatewayTlsFiles(dir: string): { ca: string; cert: string; key: string; renew(): void } {
  const ca = join(dir, 'redis-ca.crt')
  const cert = join(dir, 'redis-client.crt')
  const key = join(dir, 'redis-client.key')
  writeFileSync(ca, servers.root.pem)
  writeFileSync(cert, oldClient.client.pem + oldClient.inter.pem)
  writeFileSync(key, readFileSync(oldClient.file('client.key'), 'utf8'))
  return {
    ca, cert, key,
    renew() {
      replaceFile(key, readFileSync(newClient.file('client.key'), 'utf8'))
      replaceFile(cert, newClient.client.pem + newClient.inter.pem)
    },
  }
}

/** Every server trusts the new client CA instead of the old one, and drops its normal clients (the gateway's). */
async function switchServersToNewClientCa(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const admin = rawClient(port, rawClientTls(serverTls))
    try {
      expect(await admin.config('SET', 'tls-ca-cert-file', servers.file('trusted-new.crt'))).toBe('OK')
      await (admin as unknown as ClientKill).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    } finally {
      admin.disconnect()
    }
  }
}

/** Writes and reads back 20 keys (in a Cluster, spread over its slots). */
async function roundTrip(store: Store): Promise<void> {
  for (let i = 0; i < 20; i++) await store.put(`k${i}`, `v${i}`)
  for (let i = 0; i < 20; i++) expect(await store.get(`k${i}`)).toBe(`v${i}`)
}

/** roundTrip through a store of its own over TLS with the gateway's (old) client certificate. */
async function roundTripOpened(o: Omit<RedisStoreOptions, 'tls'>, files: { cert: string; key: string }): Promise<void> {
  const store = openRedisStore({ ...o, tls: { ca: servers.root.pem, cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8'), serverName: 'localhost' } })
  try {
    await roundTrip(store)
  } finally {
    await store.close()
  }
}

/** A gateway (in-process, admin on) on `storeYaml` (Redis gating readiness); after renew + switch, /readyz is 200 and keys round-trip only through the renewed certificate. */
async function renewalThroughGateway(storeYaml: (tls: { ca: string; cert: string; key: string }) => string, ports: readonly number[], dir: string, switchOthers?: () => Promise<void>, then?: (g: OpsGateway) => Promise<void>): Promise<void> {
  const files = gatewayTlsFiles(dir)
  const bundle = clientTls(oldClient)
  const yaml = storeYaml(files) +
    `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n` +
    `endpoints:\n${endpointYaml('partner', 9, bundle)}`
  const g = await startOpsGateway(dir, yaml)
  try {
    const readyz = async (): Promise<number> => (await get(`${g.adminUrl}/readyz`)).status
    await eventually(async () => (await readyz()) === 200, 30_000, 'the store ready over TLS')
    const before = g.gw.ref.current
    files.renew()
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload the renewed files start')
    // Before the servers drop the gateway: its reconnection is then the first lookup through them.
    await switchOthers?.()
    await switchServersToNewClientCa(ports)
    await eventually(async () => (await readyz()) === 200 && (await readyz()) === 200, 40_000, 'the store reachable with the renewed certificate')
    const store = g.gw.runtime.store
    if (store === undefined) throw new Error('the gateway opened no store')
    await roundTrip(store)
    await then?.(g)
  } finally {
    await g.gw.close()
  }
}

describe('Redis Sentinel over TLS', () => {
  it('writes and reads through TLS Sentinels to a TLS primary; a renewed client certificate reaches the next connections on reload', async () => {
    const set = await startSentinelSet('tlsprimary', serverTls)
    stops.push(() => set.stop())
    const dir = join(oldClient.dir, 'sentinel')
    const files = gatewayTlsFiles(oldClient.dir)
    const sentinels = set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }))
    await roundTripOpened({ sentinel: { sentinels, primaryName: 'tlsprimary' }, keyPrefix: 'tls-sentinel:', acknowledge: { replicas: 1, timeoutMs: 2000 } }, files)
    mkdirSync(dir, { recursive: true })
    const addresses = sentinels.map((s) => `"127.0.0.1:${s.port}"`).join(', ')
    await renewalThroughGateway(
      (tls) => `store: { kind: redis, keyPrefix: "tls-sentinel-gw:", redis: { gateReadiness: true, sentinel: { addresses: [${addresses}], primaryName: tlsprimary }, tls: { ca: ${tls.ca}, cert: ${tls.cert}, key: ${tls.key}, serverName: localhost } } }\n`,
      [set.primary.port, set.replica.port],
      dir,
    )
  }, 120_000)
})

describe('Redis Sentinels that require a client certificate', () => {
  it('finds the primary through Sentinels that verify the client certificate; after renewal, through Sentinels that accept only the new one', async () => {
    const sentinelTls = { ...serverTls, authClients: 'yes' as const }
    const set = await startSentinelSet('mtlsprimary', serverTls, sentinelTls)
    stops.push(() => set.stop())
    const dir = join(oldClient.dir, 'sentinel-mtls')
    const files = gatewayTlsFiles(oldClient.dir)
    const sentinels = set.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }))
    const o = { sentinel: { sentinels, primaryName: 'mtlsprimary' }, keyPrefix: 'mtls-sentinel:', connectTimeoutMs: 5000, commandTimeoutMs: 5000 } // a TLS handshake with client certificates at CI's load outlasted 1 s
    // The Sentinels really ask: without a client certificate nothing gets through them.
    const anonymous = openRedisStore({ ...o, tls: { ca: servers.root.pem, serverName: 'localhost' } })
    try {
      await expect(anonymous.put('k', 'v')).rejects.toThrow()
    } finally {
      await anonymous.close()
    }
    await roundTripOpened(o, files)
    mkdirSync(dir, { recursive: true })
    const addresses = sentinels.map((s) => `"127.0.0.1:${s.port}"`).join(', ')
    await renewalThroughGateway(
      (tls) => `store: { kind: redis, keyPrefix: "mtls-sentinel-gw:", redis: { gateReadiness: true, sentinel: { addresses: [${addresses}], primaryName: mtlsprimary }, tls: { ca: ${tls.ca}, cert: ${tls.cert}, key: ${tls.key}, serverName: localhost } } }\n`,
      [set.primary.port, set.replica.port],
      dir,
      // Sentinels cannot take new TLS files at run time: they are replaced, trusting only the new client CA.
      () => set.replaceSentinels({ ...sentinelTls, ca: servers.file('trusted-new.crt') }),
      // The store's `+switch-master` subscriptions reconnected to the new Sentinels with the renewed
      // certificate too: a failover is followed as announced, while the old primary is still one.
      async (g) => {
        // The window is Redis's own: at its pace a Sentinel demotes the old primary some 10 s after the switch.
        await set.pace('redis')
        const old = await set.startFailover()
        await eventually(() => g.lines.some((l) => (JSON.parse(l) as { msg: string }).msg === FOLLOWED), 30_000, 'the store to follow the promoted primary')
        const admin = rawClient(old, rawClientTls(serverTls))
        try {
          expect(String(((await admin.call('ROLE')) as unknown[])[0]), set.history()).toBe('master')
        } finally {
          admin.disconnect()
        }
        await set.pace('quick')
        await set.settled(old)
      },
    )
  }, 180_000)
})

describe('Redis Cluster over TLS', () => {
  it('writes and reads across every TLS node; a renewed client certificate reaches every node on reload', async () => {
    const cluster = await startRedisCluster(3, serverTls)
    stops.push(() => cluster.stop())
    const dir = join(oldClient.dir, 'cluster')
    const files = gatewayTlsFiles(oldClient.dir)
    const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }))
    await roundTripOpened({ cluster: { nodes }, keyPrefix: 'tls-cluster:' }, files)
    mkdirSync(dir, { recursive: true })
    const addresses = nodes.map((n) => `"127.0.0.1:${n.port}"`).join(', ')
    await renewalThroughGateway(
      (tls) => `store: { kind: redis, keyPrefix: "tls-cluster-gw:", redis: { gateReadiness: true, cluster: { nodes: [${addresses}] }, tls: { ca: ${tls.ca}, cert: ${tls.cert}, key: ${tls.key}, serverName: localhost } } }\n`,
      cluster.nodes.map((n) => n.port),
      dir,
    )
    // The renewed store's writes landed on every node: each accepted the renewed certificate.
    for (const n of cluster.nodes) {
      const c = rawClient(n.port, rawClientTls(serverTls))
      try {
        expect((await c.keys('tls-cluster-gw:*')).length, `keys on node ${n.port}`).toBeGreaterThan(0)
      } finally {
        c.disconnect()
      }
    }
  }, 120_000)
})
