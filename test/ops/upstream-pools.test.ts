/**
 * `upstream_connections_open{endpoint}` and `upstream_requests_waiting{endpoint}` show an
 * endpoint's pool at scrape time: with `connections: 2` and five calls held by the backend, two
 * connections are open and three calls wait for one; when the backend answers, none waits and
 * the two stay open (keep-alive). A reload that removes the endpoint removes its series; with
 * `--workers 2` the scrape is the sum over the workers.
 */
import { writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

let pki: TestPki
let backend: RunningServer
let g: OpsGateway
/** Responses the backend holds until released. */
const held: ServerResponse[] = []
const stops: (() => Promise<unknown>)[] = []

const release = (): void => {
  for (const res of held.splice(0)) res.end('released')
}
const tls = (): Record<string, string> => clientTls(pki)
const HEAD = 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n'
const yaml = (names: string[]): string => `${HEAD}endpoints:\n${names.map((n) => endpointYaml(n, backend.port, tls(), '    connections: 2\n')).join('')}`

async function pool(adminUrl: string, endpoint: string): Promise<{ open: number | undefined; waiting: number | undefined }> {
  const m = await scrape(adminUrl)
  return { open: valueOf(m, 'mtls_gateway_upstream_connections_open', { endpoint }), waiting: valueOf(m, 'mtls_gateway_upstream_requests_waiting', { endpoint }) }
}

/** Five calls held by the backend, then released: the pool seen while they wait and after. */
async function fiveHeld(gatewayUrl: string, adminUrl: string, endpoint: string, connections: number): Promise<void> {
  const calls = Array.from({ length: 5 }, (_, i) => send(gatewayUrl, `/proxy/${endpoint}/held-${i}`))
  await eventually(() => held.length === connections, 15_000, `${connections} calls at the backend`)
  await eventually(async () => {
    const p = await pool(adminUrl, endpoint)
    return p.open === connections && p.waiting === 5 - connections
  }, 15_000, `${connections} open, ${5 - connections} waiting`)
  // Each released call frees a connection for a waiting one, which the backend holds again.
  while ((await Promise.race([Promise.all(calls).then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) === false) release()
  for (const r of await Promise.all(calls)) expect(r.status).toBe(200)
  expect(await pool(adminUrl, endpoint)).toEqual({ open: connections, waiting: 0 })
}

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startMtlsServer({
    cert: pki.file('server-chain.crt'),
    key: pki.file('server.key'),
    ca: pki.file('root.crt'),
    handler: (req: IncomingMessage, res: ServerResponse) => {
      req.resume()
      held.push(res)
    },
  })
  g = await startOpsGateway(pki.dir, yaml(['partner', 'other']), { watch: false })
  stops.push(() => g.gw.close())
})

afterAll(async () => {
  release()
  for (const stop of stops) await stop()
  await backend?.close()
  pki?.cleanup()
})

describe('upstream_connections_open and upstream_requests_waiting', () => {
  it('show the pool: open connections, calls waiting for one; per endpoint', async () => {
    expect(await pool(g.adminUrl, 'partner')).toEqual({ open: 0, waiting: 0 })
    await fiveHeld(g.gw.url, g.adminUrl, 'partner', 2)
    // The other endpoint's pool is its own.
    expect(await pool(g.adminUrl, 'other')).toEqual({ open: 0, waiting: 0 })
  })

  it('a reload that removes the endpoint removes its series', async () => {
    writeFileSync(join(pki.dir, 'gateway.yaml'), yaml(['other']))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect(await pool(g.adminUrl, 'partner')).toEqual({ open: undefined, waiting: undefined })
    expect(await pool(g.adminUrl, 'other')).toEqual({ open: 0, waiting: 0 })
  })

  it('with --workers 2: the sum over the workers', async () => {
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, yaml(['partner']))
    const gp: GatewayProcess = await spawnGateway(file, ['--workers', '2'])
    stops.push(() => gp.stop('SIGKILL'))
    const admin = await adminUrlOf(gp)
    await eventually(async () => (await pool(admin, 'partner')).open === 0, 15_000, 'the series at 0')
    // Calls on separate connections land on both workers in turn: each worker's pool of 2 fills, so
    // the instance holds up to 4 connections; what is asserted is the sum the scrape reports.
    const calls = Array.from({ length: 6 }, (_, i) => send(gp.url, `/proxy/partner/w-${i}`))
    await eventually(() => held.length >= 3, 15_000, 'calls at the backend')
    await eventually(async () => {
      const p = await pool(admin, 'partner')
      return p.open === held.length && (p.open ?? 0) + (p.waiting ?? 0) === 6
    }, 15_000, 'open + waiting = 6, open = what the backend holds')
    while ((await Promise.race([Promise.all(calls).then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])) === false) release()
    for (const r of await Promise.all(calls)) expect(r.status).toBe(200)
  }, 120_000)
})
