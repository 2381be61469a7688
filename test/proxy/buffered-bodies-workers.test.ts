/**
 * `serve --workers 2`: each worker has its own budget of buffered bodies. Five callers each
 * holding a 64 KiB body against a 128 KiB total per worker: at most four are held (two per
 * worker), the others get 503, the primary's scrape sums what the workers hold and refuse,
 * and the gateway serves again once the holders go.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, scrape, valueOf } from '../ops/helpers.js'
import { finalAnswer, jsonBody, KiB, openPost, type Held } from './buffered-bodies-support.js'

let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
let admin: string

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const dir = join(pki.dir, 'workers')
  mkdirSync(dir)
  const tls = clientTls(pki)
  const yaml = `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
limits: { maxBufferedBody: 64KiB, maxBufferedTotal: 128KiB }
endpoints:
${endpointYaml('fields', upstream.port, tls, '    fields: [{ type: payload, key: account, value: "acct-1" }]\n')}`
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'])
  admin = await adminUrlOf(gp)
})

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

const port = (): number => Number(new URL(gp.url).port)
const metric = async (name: string): Promise<number> => valueOf(await scrape(admin), name) ?? -1

describe('with --workers 2', () => {
  it('each worker enforces its own total; the primary sums them; the gateway stays up and serves again', async () => {
    const callers: Held[] = []
    for (let i = 0; i < 5; i++) callers.push(await openPost(port(), `/proxy/fields/${i}`, 64 * KiB))
    const held = callers.filter((h) => h.first === 100)
    const refused = callers.filter((h) => h.first === 503)
    expect(held.length + refused.length).toBe(5)
    // Two fit in each worker's 128 KiB: at most four held, so at least one refused.
    expect(held.length).toBeGreaterThanOrEqual(2)
    expect(held.length).toBeLessThanOrEqual(4)
    for (const h of refused) expect((await finalAnswer(h.c)).headers['retry-after']).toBe('5')
    await eventually(async () => (await metric('mtls_gateway_buffered_body_bytes')) === held.length * 64 * KiB, 20_000, 'the summed bytes held')
    expect(await metric('mtls_gateway_buffered_body_refusals_total')).toBe(refused.length)

    for (const h of held) h.c.socket.destroy()
    await eventually(async () => (await metric('mtls_gateway_buffered_body_bytes')) === 0, 20_000, 'every body given back')
    expect(gp.child.exitCode).toBeNull()
    for (let i = 0; i < 4; i++) {
      const r = await send(gp.url, `/proxy/fields/after-${i}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: jsonBody(64 * KiB) })
      expect(r.status).toBe(200)
    }
  })
})
