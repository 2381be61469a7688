/**
 * Rotating the Redis password (`requirepass`, or an ACL user's) through a reload: the renewed
 * `store.redis.password` is accepted (not refused as restart-only) and used by the next
 * connections, so once Redis takes only the new password and drops its clients the store
 * reconnects with it; the connections already open keep working meanwhile, as Redis keeps them.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { Redis } from 'ioredis'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, stopAll } from './redis-gateway-support.js'

const OLD = 'old-redis-password-1'
const NEW = 'new-redis-password-2'
let pki: TestPki
let redis: Peer
let g: OpsGateway

const config = (password: string): string =>
  `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "rotation:", redis: { password: "${password}", commandTimeout: 1500ms } }\n` +
  CALLERS +
  `endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  redis = await startRedisServer({ conf: () => `requirepass ${OLD}\n` })
  g = await startOpsGateway(pki.dir, config(OLD))
})

afterAll(() => stopAll(g, redis, pki))

const exchange = async (): Promise<number> => (await exchangeToken(g.gw.url)).status
const storeUp = async (): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')

describe('Redis password rotation', () => {
  it('a reload takes the new password for the next connections; after Redis switches and drops its clients the store reconnects with it', async () => {
    expect(await exchange()).toBe(200)
    const before = g.gw.ref.current
    replaceFile(join(pki.dir, 'gateway.yaml'), config(NEW))
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload with the new password')
    // Still on the connection the old password opened.
    expect(await exchange()).toBe(200)
    const admin = new Redis({ host: '127.0.0.1', port: redis.port, password: OLD, maxRetriesPerRequest: 1, retryStrategy: () => null })
    try {
      await admin.config('SET', 'requirepass', NEW)
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      await eventually(async () => (await storeUp()) === 1 && (await exchange()) === 200, 30_000, 'the store back with the new password')
    } finally {
      admin.disconnect()
    }
    expect(g.lines.join('\n')).not.toContain(NEW)
  })
})
