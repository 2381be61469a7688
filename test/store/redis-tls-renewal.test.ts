/**
 * A renewed Redis client certificate (the files of `store.redis.tls`) reaches the store's next
 * connections on reload, as a fresh start would use it. The peer is a real redis-server over
 * TLS with `tls-auth-clients yes`: after the renewal it is told to trust only the new
 * certificate's CA and drops every client, so the store is reachable again only if the
 * gateway reconnects with the renewed certificate.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { clientTls, createTestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { startRedisServer } from '../support/redis-servers.js'
import { eventually, get, replaceFile, startOpsGateway } from '../ops/helpers.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'

/** ioredis types CLIENT KILL with one filter at a time; Redis takes several (TYPE and SKIPME here). */
type ClientKill = { client(subcommand: 'KILL', ...filters: string[]): Promise<unknown> }

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Renewal {
  /** The gateway's config file. */
  config: string
  /** Writes the second CA's client certificate and key over the gateway's files. */
  renew(): void
  /** Tells the server to trust only the second CA and to drop every other client. */
  switchServerCa(): Promise<void>
}

/** A TLS redis-server requiring client certificates, and a gateway config using the first CA's. */
async function setup(): Promise<Renewal> {
  const first = await createTestPki()
  const second = await createTestPki()
  cleanup.push(() => first.cleanup(), () => second.cleanup())
  const redis = await startRedisServer({ tls: { cert: first.file('server-chain.crt'), key: first.file('server.key'), ca: first.file('root.crt') } })
  cleanup.push(() => redis.stop())
  // The gateway's files: the server's CA, and its client certificate (first CA's) and key.
  // /readyz is how the test reads the store's reach, so Redis gates it (store.redis.gateReadiness).
  const ca = first.write('redis-ca.crt', first.root.pem)
  const cert = first.write('redis-client.crt', first.client.pem + first.inter.pem)
  const key = first.write('redis-client.key', readFileSync(first.file('client.key'), 'utf8'))
  const bundle = clientTls(first)
  const config = join(first.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n` +
    `store: { kind: redis, url: "rediss://127.0.0.1:${redis.port}", keyPrefix: "tls-renewal:", redis: { gateReadiness: true, tls: { ca: ${ca}, cert: ${cert}, key: ${key}, serverName: localhost } } }\n` +
    `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n` +
    `endpoints:\n${endpointYaml('partner', 9, bundle)}`)
  return {
    config,
    renew() {
      replaceFile(key, readFileSync(second.file('client.key'), 'utf8'))
      replaceFile(cert, second.client.pem + second.inter.pem)
    },
    async switchServerCa() {
      const admin = new Redis({ host: '127.0.0.1', port: redis.port, tls: { ca: first.root.pem, cert: first.client.pem + first.inter.pem, key: readFileSync(first.file('client.key'), 'utf8'), servername: 'localhost' }, maxRetriesPerRequest: 1, retryStrategy: () => null })
      try {
        expect(await admin.config('SET', 'tls-ca-cert-file', second.file('root.crt'))).toBe('OK')
        expect(Number(await (admin as unknown as ClientKill).client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes'))).toBeGreaterThan(0)
      } finally {
        admin.disconnect()
      }
    },
  }
}

describe('Redis store TLS files follow a reload', () => {
  it('a renewed client certificate from another CA: the store reconnects with it, no restart', async () => {
    const r = await setup()
    const g = await startOpsGateway(dirname(r.config), readFileSync(r.config, 'utf8'))
    cleanup.push(() => g.gw.close())
    const readyz = async (): Promise<number> => (await get(`${g.adminUrl}/readyz`)).status
    expect(await readyz()).toBe(200)
    const before = g.gw.ref.current
    r.renew()
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload the renewed files start')
    await r.switchServerCa()
    // Only a reconnect with the renewed certificate gets through.
    await eventually(async () => (await readyz()) === 200 && (await readyz()) === 200, 30_000, 'the store reachable with the renewed certificate')
  })

  it('--workers 2: both workers reconnect with the renewed certificate (/readyz asks each)', async () => {
    const r = await setup()
    const gp = await spawnGateway(r.config, ['--workers', '2'])
    cleanup.push(() => gp.stop('SIGKILL'))
    const adminUrl = await adminUrlOf(gp)
    const readyz = async (): Promise<number> => (await get(`${adminUrl}/readyz`)).status
    await eventually(async () => (await readyz()) === 200, 30_000, 'both workers ready')
    r.renew()
    const reloads = (): number => new Set(gp.output.filter((l) => l.includes('"config reloaded"')).map((l) => (JSON.parse(l) as { pid: number }).pid)).size
    await eventually(() => reloads() === 2, 30_000, 'both workers to reload')
    await r.switchServerCa()
    await eventually(async () => (await readyz()) === 200 && (await readyz()) === 200, 30_000, 'both workers reachable with the renewed certificate')
  }, 120_000)
})
