/**
 * `--workers 2` on a Redis that does not answer (a silent TCP server: accepts, never replies) is
 * what one process is: /readyz 200 with the store's note from each worker (the store does not gate
 * readiness by default), and every scrape has each worker's counts and `store_up 0`. Each worker's
 * own checks took the same 2 s the primary waited for its answer, so the answer came just late:
 * 503 "no readiness answer" (every pod out of its Service on a shared Redis outage), and scrapes
 * that lost a worker's counts or `store_up` (the store alert, `max(store_up) == 0`, never fired).
 */
import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, clientTls, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { get, scrape, spawnTwoWorkers, STORE_CALLERS, valueOf } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let silent: Server
const held: Socket[] = []
let gp: GatewayProcess | undefined

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: echo })
  silent = createServer((s) => void held.push(s.on('error', () => undefined)))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as { port: number }).port
  const store = `store: { kind: redis, url: "redis://127.0.0.1:${port}", keyPrefix: "silent-store-test:" }\n`
  ;({ gp } = await spawnTwoWorkers(pki.dir, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n${store}${STORE_CALLERS.replace('required: false', 'required: true')}endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`))
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  held.forEach((s) => s.destroy())
  silent?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('--workers 2 on a silent Redis', () => {
  it('/readyz is 200 with each worker\'s store note at every poll, and every scrape has both workers\' counts and store_up 0', async () => {
    const admin = await adminUrlOf(gp as GatewayProcess)
    const url = (gp as GatewayProcess).url
    // Requests without credentials (no store needed to refuse them): spread over both workers.
    const refused = await Promise.all(Array.from({ length: 10 }, () => send(url, '/proxy/partner/x', { agent: undefined })))
    expect(refused.map((r) => r.status)).toEqual(Array(10).fill(401))
    for (let poll = 0; poll < 4; poll++) {
      const ready = await get(`${admin}/readyz`)
      const body = JSON.parse(ready.text) as { status: string; reasons?: string[]; notes?: string[] }
      expect([ready.status, body.status, body.reasons], ready.text).toEqual([200, 'ready', undefined])
      expect(body.notes?.filter((n) => /^worker \d+: store: /.test(n)), ready.text).toHaveLength(2)
      const metrics = await scrape(admin)
      expect(valueOf(metrics, 'mtls_gateway_store_up')).toBe(0)
      expect(valueOf(metrics, 'mtls_gateway_caller_auth_failures_total', { reason: 'missing' })).toBe(10)
    }
  }, 120_000)
})
