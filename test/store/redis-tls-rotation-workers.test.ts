/**
 * A TLS Redis store's certificates rotated under `serve --workers 2`, the store first opened by a
 * hot reload: each worker uses the files a fresh
 * start would read at that moment. The files are a Secret volume updated as kubelet does; the
 * server is a real TLS-only redis-server that requires client certificates.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import type { Peer } from '../support/peers.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import { rawClient, startRedisServer } from '../support/redis-servers.js'
import { secretVolume } from '../support/secret-volume.js'
import { eventually, get, refusedReloadProblems } from '../ops/helpers.js'
import { CALLERS, exchangeToken } from './redis-gateway-support.js'
import { cleanup, cleanupAfterEach, clientChain, clientKey, rotationPkis } from './redis-tls-rotation-support.js'

cleanupAfterEach()


describe('Redis store TLS rotation with --workers 2 and a store opened by a hot reload', () => {
  it('the reload that opens the store uses the renewed files; a broken renewal is refused by name; the server\'s new CA is reached with no restart', async () => {
    // first: the server's first CA and the gateway's first client CA; next: the server's next CA; renewed: the gateway's next client CA.
    const { first, next, renewed } = await rotationPkis()
    const trust = first.write('server-trusts.crt', first.root.pem)
    let redis: Peer = await startRedisServer({ tls: { cert: first.file('server-chain.crt'), key: first.file('server.key'), ca: trust } })
    cleanup.push(() => redis.stop())
    const volume = secretVolume(join(first.dir, 'redis-tls'), { 'ca.crt': first.root.pem, 'tls.crt': clientChain(first), 'tls.key': clientKey(first) })
    const store = `store: { kind: redis, url: "rediss://127.0.0.1:${redis.port}", keyPrefix: "tls-rotation-workers:", redis: { gateReadiness: true, commandTimeout: 1500ms, ` +
      `tls: { ca: ${volume.path('ca.crt')}, cert: ${volume.path('tls.crt')}, key: ${volume.path('tls.key')}, serverName: localhost } } }\n`
    const base = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n${store}`
    const endpoints = `endpoints:\n${endpointYaml('partner', 9, clientTls(first))}`
    const config = join(first.dir, 'gateway.yaml')
    // No caller apps yet: nothing opens the store.
    writeFileSync(config, base + endpoints)
    const gp = await spawnGateway(config, ['--workers', '2'])
    cleanup.push(() => gp.stop('SIGKILL'))
    const adminUrl = await adminUrlOf(gp)
    const ready = async (): Promise<boolean> => (await get(`${adminUrl}/readyz`)).status === 200 && (await exchangeToken(gp.url)).status === 200
    const accepted = (): number => gp.logEntries().filter((e) => e.msg === 'reload accepted by every worker').length

    // Renewed before any connection: a client certificate of another CA (which the server alone now trusts) and the next CA beside the first.
    volume.update({ 'ca.crt': first.root.pem + next.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': clientKey(renewed) })
    await eventually(() => accepted() === 1, 60_000, 'the reload of the renewed Secret')
    const admin = rawClient(redis.port, { ca: first.root.pem, cert: clientChain(first), key: clientKey(first) })
    writeFileSync(trust, renewed.root.pem)
    expect(await admin.config('SET', 'tls-ca-cert-file', trust)).toBe('OK')
    admin.disconnect()
    // The reload that adds caller apps opens the store, with the files as they are now.
    writeFileSync(config, base + CALLERS + endpoints)
    await eventually(() => accepted() === 2, 60_000, 'the reload that opens the store')
    await eventually(ready, 60_000, 'every worker\'s store on the renewed certificate')

    // A broken renewal (the key of another certificate): refused, naming the key; the store stays.
    const from = gp.output.length
    volume.update({ 'ca.crt': first.root.pem + next.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': clientKey(next) })
    expect(JSON.stringify(await refusedReloadProblems(gp, from))).toContain(`store.redis.tls.key: ${volume.path('tls.key')}: private key does not match the certificate in ${volume.path('tls.crt')}`)
    expect(await ready()).toBe(true)
    volume.update({ 'ca.crt': first.root.pem + next.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': clientKey(renewed) })
    await eventually(() => accepted() === 3, 60_000, 'the reload of the repaired Secret')

    // The server restarts on a certificate of the next CA: every process reconnects through the CA bundle.
    const port = redis.port
    await redis.stop()
    redis = await startRedisServer({ port, tls: { cert: next.file('server-chain.crt'), key: next.file('server.key'), ca: renewed.file('root.crt') } })
    await eventually(async () => (await ready()) && (await ready()), 60_000, 'every worker\'s store on the server\'s new certificate')
  }, 300_000)
})
