/**
 * A gateway whose Redis store only the console uses (no caller apps, no per-user profile): the
 * console opens the store itself at its first sign-in. Its TLS files renewed (a Secret update) reach
 * that store's next connections too, as they reach the runtime's store: the server then trusts only
 * the renewed client certificate's CA and drops its clients, and the console's store comes back.
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { adminRequest } from '../support/admin-request.js'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisServer } from '../support/redis-servers.js'
import { secretVolume } from '../support/secret-volume.js'
import { eventually, scrape, startOpsGateway, valueOf } from '../ops/helpers.js'
import { cleanup, cleanupAfterEach, clientChain, clientKey, rotationPkis } from './redis-tls-rotation-support.js'

/** ioredis types CLIENT KILL with one filter at a time; Redis takes several (TYPE and SKIPME here). */
type ClientKill = { client(subcommand: 'KILL', ...filters: string[]): Promise<unknown> }

const TOKEN_ENV = 'MTLS_GATEWAY_TEST_ROTATION_CONSOLE_TOKEN'
const TOKEN = 'rotation-console-token-4c1d8e2f9a'

cleanupAfterEach()

describe('the console\'s own Redis store and renewed TLS files', () => {
  it('a renewed client certificate reaches the console store\'s next connection', async () => {
    const { first, renewed } = await rotationPkis()
    const trust = first.write('server-trusts.crt', first.root.pem)
    const redis = await startRedisServer({ tls: { cert: first.file('server-chain.crt'), key: first.file('server.key'), ca: trust } })
    cleanup.push(() => redis.stop())
    const volume = secretVolume(join(first.dir, 'redis-tls'), { 'ca.crt': first.root.pem, 'tls.crt': clientChain(first), 'tls.key': clientKey(first) })
    process.env[TOKEN_ENV] = TOKEN
    const yaml = `admin: { host: 127.0.0.1, port: 0, token: "\${env:${TOKEN_ENV}}" }\n` +
      `store: { kind: redis, url: "rediss://127.0.0.1:${redis.port}", keyPrefix: "tls-rotation-console:", redis: { commandTimeout: 1500ms, ` +
      `tls: { ca: ${volume.path('ca.crt')}, cert: ${volume.path('tls.crt')}, key: ${volume.path('tls.key')}, serverName: localhost } } }\n` +
      `endpoints:\n${endpointYaml('partner', 9, clientTls(first))}`
    const g = await startOpsGateway(first.dir, yaml)
    cleanup.push(() => g.gw.close())
    const origin = new URL(g.adminUrl).origin
    const login = await adminRequest(`${g.adminUrl}/console/api/login`, { method: 'POST', origin, body: { token: TOKEN } })
    expect(login.status, login.text).toBe(200)
    const set = login.headers['set-cookie']
    const cookie = (Array.isArray(set) ? set[0] as string : set ?? '').split(';')[0] as string
    const storeUp = async (): Promise<boolean> => {
      const r = await adminRequest(`${g.adminUrl}/console/api/overview`, { cookie, origin })
      return r.status === 200 && (JSON.parse(r.text) as { store: { up?: boolean } }).store.up === true
    }
    await eventually(storeUp, 30_000, 'the console\'s store up')

    volume.update({ 'ca.crt': first.root.pem, 'tls.crt': clientChain(renewed), 'tls.key': clientKey(renewed) })
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 30_000, 'the reload the renewed Secret starts')
    const admin = rawClient(redis.port, { ca: first.root.pem, cert: clientChain(first), key: clientKey(first) })
    try {
      writeFileSync(trust, renewed.root.pem)
      expect(await admin.config('SET', 'tls-ca-cert-file', trust)).toBe('OK')
      await (admin as unknown as ClientKill).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    } finally {
      admin.disconnect()
    }
    await eventually(storeUp, 30_000, 'the console\'s store back with the renewed certificate')
  }, 120_000)
})
