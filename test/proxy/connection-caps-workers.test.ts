/**
 * `listen.connections.max` with `--workers 2` (each worker its own cap): a connection over a
 * worker's cap is closed as soon as it is accepted and counted (reason max_connections); it is
 * not handed from worker to worker until a slot frees (Node's maxConnections in a cluster
 * worker did that: every process spun and the connection was neither refused nor served).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { childPids, eventually, scrape, valueOf } from '../ops/helpers.js'

const CAP = 2
// No endpoint is needed: an accepted connection is served a 404 for a route the gateway does not have.
const YAML = `listen: { host: 127.0.0.1, port: 0, connections: { max: ${CAP} } }\nadmin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\nendpoints: []\n`

let pki: TestPki
let gp: GatewayProcess
let admin: string
let port: number
const clients: RawClient[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, YAML)
  gp = await spawnGateway(file, ['--workers', '2'])
  admin = await adminUrlOf(gp)
  port = Number(new URL(gp.url).port)
}, 120_000)

afterAll(async () => {
  for (const c of clients) c.socket.destroy()
  await gp?.stop('SIGKILL')
  pki?.cleanup()
})

const metric = async (name: string, labels: Record<string, string>): Promise<number> => valueOf(await scrape(admin), name, labels) ?? 0
const openNow = (): Promise<number> => metric('mtls_gateway_connections_open', { listener: 'proxy' })
const refusedNow = (): Promise<number> => metric('mtls_gateway_connections_refused_total', { listener: 'proxy', reason: 'max_connections' })

/** CPU seconds (user + system) `pid` has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** One silent connection, once a worker counts it or the gateway closed it (one at a time, so the primary alternates between the workers). */
async function openOne(): Promise<RawClient> {
  const c = await rawClient(port)
  clients.push(c)
  const held = clients.filter((x) => !x.socket.closed).length
  await eventually(async () => c.socket.closed || (await openNow()) === held, 30_000, `connection ${clients.length} to be held by a worker or closed`)
  return c
}

describe('connection caps with --workers 2', () => {
  it('closes a connection over a worker\'s cap at once, counts it, and serves the accepted ones', async () => {
    for (let i = 0; i <= 2 * CAP; i++) await openOne()
    const closed = clients.filter((c) => c.socket.closed)
    const held = clients.filter((c) => !c.socket.closed)
    // Alternating, the last one reaches a full worker; whichever were refused got not a byte.
    expect(closed.length).toBeGreaterThanOrEqual(1)
    for (const c of closed) expect(c.received().length).toBe(0)
    await eventually(async () => (await refusedNow()) === closed.length, 15_000, `${closed.length} refusal(s) counted`)
    // A burst over the caps: each closed on accept, none bounced between the workers.
    const burst = await Promise.all(Array.from({ length: 20 }, () => rawClient(port)))
    clients.push(...burst)
    await Promise.all(burst.map((c) => c.closed(30_000)))
    await eventually(async () => (await refusedNow()) === closed.length + 20, 15_000, 'the burst counted')
    // No connection is left circulating: the instance idles (a bounced one kept every process busy).
    const pids = [gp.child.pid as number, ...childPids(gp.child.pid as number)]
    const before = pids.map(cpuSeconds)
    const started = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const used = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - (before[i] as number), 0)
    expect(used).toBeLessThan((Date.now() - started) / 1000 / 2)
    // The accepted connections, on both workers, are served.
    for (const c of held) c.socket.write('GET /nowhere HTTP/1.1\r\nHost: gateway\r\n\r\n')
    await eventually(() => held.every((c) => c.received().toString('latin1').startsWith('HTTP/1.1 404')), 30_000, 'every accepted connection to be answered')
    expect(await openNow()).toBe(held.length)
  }, 180_000)
})
