/**
 * Rotating a TLS Redis store's certificates while the gateway runs (cert-manager renewing a Secret),
 * against a real redis-server that requires client certificates:
 * - the gateway's files replaced the way kubelet updates a Secret volume (the `..data` swap): the
 *   next connection presents the new client certificate; a swap that changes nothing, and a
 *   reload of unchanged files, reconnect nothing; a broken renewal (a key of another certificate)
 *   is refused naming the key, and the store keeps its connection and its last good files;
 * - the server's certificate moved to a new CA while the gateway's CA file, rewritten in place,
 *   holds the old and the new CA: the store reconnects after the server restarts on the new one.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { privateKeyPem } from '../../src/tls/index.js'
import { clientTls, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import type { Peer } from '../support/peers.js'
import { rawClient, startRedisServer, type RawClientTls, type RedisServerTls } from '../support/redis-servers.js'
import { secretVolume } from '../support/secret-volume.js'
import { eventually, get, RELOAD_REFUSED, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken } from './redis-gateway-support.js'
import { cleanup, cleanupAfterEach, clientChain, clientKey, rotationPkis } from './redis-tls-rotation-support.js'

/** ioredis types CLIENT with one argument at a time; Redis takes several (TYPE and SKIPME here). */
type ClientCommand = { client(subcommand: string, ...args: string[]): Promise<unknown> }

cleanupAfterEach()


/** A TLS-only redis-server with `pki`'s server certificate, trusting client certificates of `clientCa`. */
function serverTls(pki: TestPki, clientCa: string): RedisServerTls {
  return { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: clientCa }
}

/** The test's own client of the server (it presents `first`'s client certificate, trusted throughout). */
function admin(port: number, first: TestPki, serverCa: string): ReturnType<typeof rawClient> {
  const tls: RawClientTls = { ca: serverCa, cert: clientChain(first), key: clientKey(first) }
  return rawClient(port, tls)
}

/** The ids of the server's client connections but `a`'s own: the gateway's store connections. */
async function storeConnections(a: ReturnType<typeof rawClient>): Promise<string[]> {
  const own = String(await a.client('ID'))
  const list = String(await (a as unknown as ClientCommand).client('LIST', 'TYPE', 'normal'))
  return [...list.matchAll(/^id=(\d+) /gm)].map((m) => m[1] as string).filter((id) => id !== own).sort()
}

/** A gateway in-process on a TLS Redis store (gating readiness), its TLS files at `files`. */
async function gatewayOn(dir: string, port: number, files: { ca: string; cert: string; key: string; passphrase?: string }, bundle: TestPki): Promise<OpsGateway> {
  const passphrase = files.passphrase !== undefined ? `, keyPassphrase: "\${file:${files.passphrase}}"` : ''
  const yaml = `store: { kind: redis, url: "rediss://127.0.0.1:${port}", keyPrefix: "tls-rotation:", redis: { gateReadiness: true, commandTimeout: 1500ms, tls: { ca: ${files.ca}, cert: ${files.cert}, key: ${files.key}${passphrase}, serverName: localhost } } }\n` +
    `${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(bundle))}`
  const g = await startOpsGateway(dir, yaml)
  cleanup.push(() => g.gw.close())
  return g
}

const reloads = async (g: OpsGateway, result: 'success' | 'failure'): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result }) ?? 0
/** The problems of each refused reload so far. */
const refusals = (g: OpsGateway): string[][] => g.lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).filter((e) => e.msg === RELOAD_REFUSED).map((e) => e.problems ?? [])
const ready = async (g: OpsGateway): Promise<boolean> => (await get(`${g.adminUrl}/readyz`)).status === 200 && (await exchangeToken(g.gw.url)).status === 200

describe('Redis store TLS files renewed as kubelet updates a Secret volume', () => {
  it('the next connection uses the renewed files; unchanged files reconnect nothing; a broken renewal keeps the connection and the last good files', async () => {
    const { first, next: stranger, renewed } = await rotationPkis()
    const trust = first.write('server-trusts.crt', first.root.pem)
    const redis: Peer = await startRedisServer({ tls: serverTls(first, trust) })
    cleanup.push(() => redis.stop())
    const a = admin(redis.port, first, first.root.pem)
    cleanup.push(() => a.disconnect())
    const v1 = { 'ca.crt': first.root.pem, 'tls.crt': clientChain(first), 'tls.key': clientKey(first) }
    const volume = secretVolume(join(first.dir, 'redis-tls'), v1)
    const g = await gatewayOn(first.dir, redis.port, { ca: volume.path('ca.crt'), cert: volume.path('tls.crt'), key: volume.path('tls.key') }, first)
    await eventually(() => ready(g), 30_000, 'the store ready over TLS')
    const connected = await storeConnections(a)
    expect(connected.length).toBeGreaterThan(0)

    // A Secret update that changes nothing, then a reload of the same files: no reconnect.
    volume.update(v1)
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect(await storeConnections(a)).toEqual(connected)

    // cert-manager renews the client certificate (from another CA): the reload keeps the open connection...
    const v2 = { 'ca.crt': first.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': clientKey(renewed) }
    volume.update(v2)
    await eventually(async () => (await reloads(g, 'success')) === 2, 30_000, 'the reload the renewed Secret starts')
    expect(await storeConnections(a)).toEqual(connected)
    // ...and the next one presents the renewed certificate: the server now trusts only its CA and drops the gateway.
    writeFileSync(trust, renewed.root.pem)
    expect(await a.config('SET', 'tls-ca-cert-file', trust)).toBe('OK')
    await (a as unknown as ClientCommand).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    await eventually(() => ready(g), 30_000, 'the store reconnected with the renewed certificate')

    // A broken renewal: a key of another certificate. Refused, naming the key; the connection stays.
    const kept = await storeConnections(a)
    volume.update({ ...v2, 'tls.key': clientKey(stranger) })
    const refused = await eventually(() => refusals(g)[0], 30_000, 'the refused reload')
    expect(refused.join('\n')).toContain(`store.redis.tls.key: ${volume.path('tls.key')}: private key does not match the certificate in ${volume.path('tls.crt')}`)
    expect(await storeConnections(a)).toEqual(kept)
    // Dropped now, the store reconnects with the last good files (the renewed ones), not the broken key.
    await (a as unknown as ClientCommand).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    await eventually(() => ready(g), 30_000, 'the store reconnected with the last good files')
  }, 150_000)

  it('an encrypted key renewed with a new passphrase (one Secret, the passphrase a ${file:}): reloads, the next connection uses both', async () => {
    const { first, renewed } = await rotationPkis()
    const trust = first.write('server-trusts.crt', first.root.pem)
    const redis: Peer = await startRedisServer({ tls: serverTls(first, trust) })
    cleanup.push(() => redis.stop())
    const a = admin(redis.port, first, first.root.pem)
    cleanup.push(() => a.disconnect())
    const volume = secretVolume(join(first.dir, 'redis-tls'), { 'ca.crt': first.root.pem, 'tls.crt': clientChain(first), 'tls.key': privateKeyPem(first.client, 'pkcs8', 'first-passphrase'), passphrase: 'first-passphrase' })
    const g = await gatewayOn(first.dir, redis.port, { ca: volume.path('ca.crt'), cert: volume.path('tls.crt'), key: volume.path('tls.key'), passphrase: volume.path('passphrase') }, first)
    await eventually(() => ready(g), 30_000, 'the store ready over TLS')
    volume.update({ 'ca.crt': first.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': privateKeyPem(renewed.client, 'pkcs8', 'renewed-passphrase'), passphrase: 'renewed-passphrase' })
    await eventually(async () => (await reloads(g, 'success')) + (await reloads(g, 'failure')) === 1, 30_000, 'the reload the renewed Secret starts')
    // A fresh start with these files would open the store: so does the reload (before, `store.redis: changed, …only after a restart`).
    expect(refusals(g)).toEqual([])
    writeFileSync(trust, renewed.root.pem)
    expect(await a.config('SET', 'tls-ca-cert-file', trust)).toBe('OK')
    await (a as unknown as ClientCommand).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    await eventually(() => ready(g), 30_000, 'the store reconnected with the renewed key')
  }, 120_000)
})

describe('the Redis server moves to a certificate of a new CA', () => {
  it('the CA file rewritten in place with both CAs: the store reconnects to the restarted server, no gateway restart', async () => {
    const { first, next } = await rotationPkis()
    let redis: Peer = await startRedisServer({ tls: serverTls(first, first.file('root.crt')) })
    cleanup.push(() => redis.stop())
    const files = { ca: first.write('redis-ca.crt', first.root.pem), cert: first.write('redis-client.crt', clientChain(first)), key: first.write('redis-client.key', clientKey(first)) }
    const g = await gatewayOn(first.dir, redis.port, files, first)
    await eventually(() => ready(g), 30_000, 'the store ready over TLS')

    // The CA file gains the new CA, written over the same file (not replaced).
    writeFileSync(files.ca, first.root.pem + next.root.pem)
    await eventually(async () => (await reloads(g, 'success')) === 1, 30_000, 'the reload the CA bundle starts')
    const port = redis.port
    await redis.stop()
    redis = await startRedisServer({ port, tls: serverTls(next, first.file('root.crt')) })
    await expect.poll(() => ready(g), { timeout: 40_000, message: 'the store reconnected to the server on its new certificate' }).toBe(true)
  }, 120_000)
})
