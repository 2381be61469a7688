/**
 * `connections_open{listener="proxy"}` is the number of client connections the proxy listener
 * holds now (idle keep-alive ones and CONNECT tunnels included), and `connections_max` its cap
 * (listen.connections.max), so open / max is how close the listener is to refusing. With
 * `--workers 2` both are the sum over the workers: the instance's connections and capacity.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

let pki: TestPki
let g: OpsGateway
const stops: (() => Promise<unknown>)[] = []

// No endpoint is needed: the connections only need to be open (a route the gateway answers 404).
const yaml = (max: number): string => `listen: { host: 127.0.0.1, port: 0, connections: { max: ${max} } }\nadmin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\nendpoints: []\n`

/** `n` connections to `port`, each having sent one complete request and read its answer (then idle, kept alive). */
async function openIdle(port: number, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const s = tcpConnect(port, '127.0.0.1')
      await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
      s.write('GET /nowhere HTTP/1.1\r\nHost: gateway\r\n\r\n')
      await new Promise<void>((resolve) => s.once('data', () => resolve()))
      return s
    }),
  )
}

async function closeAll(sockets: Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()).destroy())))
}

const gauges = async (adminUrl: string): Promise<{ open: number | undefined; max: number | undefined }> => {
  const m = await scrape(adminUrl)
  return { open: valueOf(m, 'mtls_gateway_connections_open', { listener: 'proxy' }), max: valueOf(m, 'mtls_gateway_connections_max', { listener: 'proxy' }) }
}

beforeAll(async () => {
  pki = await createTestPki()
  g = await startOpsGateway(pki.dir, yaml(300), { watch: false })
  stops.push(() => g.gw.close())
})

afterAll(async () => {
  for (const stop of stops) await stop()
  pki?.cleanup()
})

describe('connections_open and connections_max', () => {
  it('count the proxy listener\'s open connections, up and down, against its cap', async () => {
    expect(await gauges(g.adminUrl)).toEqual({ open: 0, max: 300 })
    const first = await openIdle(g.gw.port, 7)
    expect(await gauges(g.adminUrl)).toEqual({ open: 7, max: 300 })
    const more = await openIdle(g.gw.port, 5)
    expect((await gauges(g.adminUrl)).open).toBe(12)
    await closeAll(first)
    await eventually(async () => (await gauges(g.adminUrl)).open === 5, 10_000, 'five left open')
    await closeAll(more)
    await eventually(async () => (await gauges(g.adminUrl)).open === 0, 10_000, 'none left open')
  })

  it('with --workers 2: the instance\'s sum, of connections and of caps', async () => {
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, yaml(250))
    const gp: GatewayProcess = await spawnGateway(file, ['--workers', '2'])
    stops.push(() => gp.stop('SIGKILL'))
    const admin = await adminUrlOf(gp)
    const port = Number(new URL(gp.url).port)
    await expect.poll(async () => (await gauges(admin)).max, { timeout: 15_000, message: 'both workers\' caps' }).toBe(500)
    const sockets = await openIdle(port, 10)
    await expect.poll(async () => (await gauges(admin)).open, { timeout: 15_000, message: 'ten open' }).toBe(10)
    await closeAll(sockets)
    await expect.poll(async () => (await gauges(admin)).open, { timeout: 15_000, message: 'none left open' }).toBe(0)
  }, 120_000)
})
