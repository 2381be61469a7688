/**
 * Sentinel and Cluster over TLS when the servers' certificates move to a new CA: the gateway's CA
 * file, a Secret volume updated as kubelet does (the `..data` swap), gains the new CA beside the old
 * one; then every server (and each Sentinel, restarted) presents a certificate of the new CA and
 * drops its clients. The store finds the primary and reaches every node again with no restart.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, rawClientTls, startRedisCluster, startSentinelSet, type RedisServerTls } from '../support/redis-servers.js'
import { secretVolume, type SecretVolume } from '../support/secret-volume.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken } from './redis-gateway-support.js'

/** ioredis types CLIENT KILL with one filter at a time; Redis takes several (TYPE and SKIPME here). */
type ClientKill = { client(subcommand: 'KILL', ...filters: string[]): Promise<unknown> }

/** `first`: the servers' first CA and every client certificate; `next`: the servers' next CA. */
let first: TestPki
let next: TestPki
let serverTls: RedisServerTls
const stops: (() => Promise<unknown> | void)[] = []

beforeAll(async () => {
  ;[first, next] = await Promise.all([createTestPki(), createTestPki()])
  stops.push(() => first.cleanup(), () => next.cleanup())
  serverTls = {
    cert: first.file('server-chain.crt'),
    key: first.file('server.key'),
    // The servers (replication, bus, Sentinels) trust both CAs throughout: the test rotates the gateway's side.
    ca: first.write('servers-trust.crt', first.root.pem + next.root.pem),
    clientCert: first.write('peer-client.crt', first.client.pem + first.inter.pem),
    clientKey: first.file('client.key'),
  }
})

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** The servers' TLS once rotated: a certificate of the next CA. */
const rotatedTls = (): RedisServerTls => ({ ...serverTls, cert: next.file('server-chain.crt'), key: next.file('server.key') })

/** Each server presents a certificate of the next CA from now on and drops its normal clients (the gateway's). */
async function rotateServers(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const admin = rawClient(port, rawClientTls(serverTls))
    try {
      expect(await admin.config('SET', 'tls-cert-file', next.file('server-chain.crt'), 'tls-key-file', next.file('server.key'))).toBe('OK')
      await (admin as unknown as ClientKill).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    } finally {
      admin.disconnect()
    }
  }
}

/** A gateway on `storeYaml` whose `store.redis.tls` files are a Secret volume holding the first CA and the client certificate. */
async function gatewayOnVolume(dir: string, storeYaml: (tls: string) => string): Promise<{ g: OpsGateway; volume: SecretVolume }> {
  const volume = secretVolume(join(dir, 'redis-tls'), { 'ca.crt': first.root.pem, 'tls.crt': first.client.pem + first.inter.pem, 'tls.key': readFileSync(first.file('client.key'), 'utf8') })
  const tls = `{ ca: ${volume.path('ca.crt')}, cert: ${volume.path('tls.crt')}, key: ${volume.path('tls.key')}, serverName: localhost }`
  const g = await startOpsGateway(dir, `${storeYaml(tls)}${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(first))}`)
  return { g, volume }
}

const ready = async (g: OpsGateway): Promise<boolean> => (await get(`${g.adminUrl}/readyz`)).status === 200 && (await exchangeToken(g.gw.url)).status === 200

/** The volume gains the next CA (the first kept); once reloaded, `rotate` moves the servers onto it: the store must come back. */
async function rotation(g: OpsGateway, volume: SecretVolume, rotate: () => Promise<void>): Promise<void> {
  await eventually(() => ready(g), 40_000, 'the store ready over TLS')
  volume.update({ 'ca.crt': first.root.pem + next.root.pem, 'tls.crt': first.client.pem + first.inter.pem, 'tls.key': readFileSync(first.file('client.key'), 'utf8') })
  await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 30_000, 'the reload the CA bundle starts')
  await rotate()
  await eventually(() => ready(g), 60_000, 'the store back on the servers\' new certificates')
}

describe('Sentinel: the servers and the Sentinels move to a new CA', () => {
  it('the CA bundle reaches the next Sentinel lookup and primary connection', async () => {
    const set = await startSentinelSet('rotprimary', serverTls)
    stops.push(() => set.stop())
    const addresses = set.sentinels.map((s) => `"127.0.0.1:${s.port}"`).join(', ')
    const { g, volume } = await gatewayOnVolume(join(first.dir, 'sentinel'), (tls) =>
      `store: { kind: redis, keyPrefix: "rot-sentinel:", redis: { gateReadiness: true, sentinel: { addresses: [${addresses}], primaryName: rotprimary }, tls: ${tls} } }\n`)
    try {
      await rotation(g, volume, async () => {
        // Sentinels take TLS files only at start: restarted on the new certificate, before the servers drop the gateway.
        await set.replaceSentinels({ ...rotatedTls(), authClients: 'no' })
        await rotateServers([set.primary.port, set.replica.port])
      })
    } finally {
      await g.gw.close()
    }
  }, 180_000)
})

describe('Cluster: every node moves to a new CA', () => {
  it('the CA bundle reaches every node\'s next connection', async () => {
    const cluster = await startRedisCluster(3, serverTls)
    stops.push(() => cluster.stop())
    const nodes = cluster.nodes.map((n) => `"127.0.0.1:${n.port}"`).join(', ')
    const { g, volume } = await gatewayOnVolume(join(first.dir, 'cluster'), (tls) =>
      `store: { kind: redis, keyPrefix: "rot-cluster:", redis: { gateReadiness: true, cluster: { nodes: [${nodes}] }, tls: ${tls} } }\n`)
    try {
      await rotation(g, volume, () => rotateServers(cluster.nodes.map((n) => n.port)))
    } finally {
      await g.gw.close()
    }
  }, 180_000)
})
