import { mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { startRedisServer } from '../support/redis-server.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

// /readyz and store_up against a store that is really gone, not an injected fake probe:
// a Redis server we start and stop, and a SQLite file replaced by a directory (the tests run
// as root, so chmod 000 would not stop the gateway from opening it).
let pki: TestPki
let endpoints: string

beforeAll(async () => {
  pki = await createTestPki()
  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  // Callers make the gateway open its store (a config without them never touches one).
  endpoints = `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n` +
    `endpoints:\n${endpointYaml('partner', 9, tls)}`
})
afterAll(() => pki?.cleanup())

const ready = async (g: OpsGateway): Promise<{ status: number; body: { status: string; reasons?: string[] } }> => {
  const r = await get(`${g.adminUrl}/readyz`)
  return { status: r.status, body: JSON.parse(r.text) as { status: string; reasons?: string[] } }
}
const storeUp = async (g: OpsGateway): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')

describe('readiness with a real store down', () => {
  it('Redis stopped: /readyz 503 naming the store, store_up 0', async () => {
    const redis = await startRedisServer()
    const g = await startOpsGateway(pki.dir, `store: { kind: redis, url: "${redis.url}", keyPrefix: "readiness:" }\n${endpoints}`, { watch: false })
    try {
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready' } })
      expect(await storeUp(g)).toBe(1)
      await redis.stop()
      const down = await eventually(async () => {
        const r = await ready(g)
        return r.body.reasons?.some((why) => why.includes('ECONNREFUSED')) && r
      }, 30_000, '/readyz to report the stopped Redis')
      expect(down).toEqual({ status: 503, body: { status: 'not_ready', reasons: [`store: redis store ${redis.url} is unreachable (connect ECONNREFUSED ${redis.url.slice('redis://'.length)}): ping failed`] } })
      expect(await storeUp(g)).toBe(0)
    } finally {
      await g.gw.close()
      await redis.stop()
    }
  })

  it('SQLite file replaced by a directory: /readyz 503 naming the file, store_up 0', async () => {
    const file = join(pki.dir, 'state', 'gateway.db')
    const g = await startOpsGateway(pki.dir, `store: { kind: sqlite, file: ${file} }\n${endpoints}`, { watch: false })
    try {
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready' } })
      expect(await storeUp(g)).toBe(1)
      renameSync(file, `${file}.moved`)
      mkdirSync(file)
      const r = await ready(g)
      expect(r.status).toBe(503)
      expect(r.body).toEqual({ status: 'not_ready', reasons: [expect.stringMatching(new RegExp(`^store: sqlite store "${file}": ping failed: `))] })
      expect(await storeUp(g)).toBe(0)
    } finally {
      await g.gw.close()
    }
  })
})
