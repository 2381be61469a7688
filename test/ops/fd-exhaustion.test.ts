import { Agent, request as httpRequest } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { entriesWhen } from '../support/log-entries.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { eventually, parseMetrics, valueOf } from './helpers.js'
import { descriptorShortfall } from '../../src/ops/connection-events.js'

// Out of file descriptors (the gateway runs under `prlimit --nofile=96`): silent connections
// use up the descriptors; a legitimate request that needs a new upstream connection gets
// 503 fd_exhausted (never a 502 "upstream failed"), the metric counts it, and /readyz says
// not ready. The test's own connections were opened before the descriptors ran out.
let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
const silent: RawClient[] = []

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: echo })
  const tls = clientTls(pki)
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nstore: { file: ${join(pki.dir, 'gw.db')} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}${endpointYaml('fresh', upstream.port, tls)}`)
  gp = await spawnGateway(file, ['--workers', '1'], {}, ['prlimit', '--nofile=96:96'])
}, 120_000)

afterAll(async () => {
  for (const c of silent) c.socket.destroy()
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

/** GET over a kept-alive agent: the connection exists before descriptors run out. */
function get(agent: Agent, url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
    }).on('error', reject).end()
  })
}

describe('a connection cap the descriptor limit cannot hold', () => {
  it('is said at start, once per process, with the numbers and the fix', async () => {
    const line = await eventually(() => gp.output.find((l) => l.includes('"connection cap above the file descriptor limit"')), 30_000, 'the start-up warning')
    expect(JSON.parse(line)).toMatchObject({
      level: 'warn',
      problem: expect.stringMatching(/^listen\.connections\.max 4096 may need 8192 file descriptors \(a caller's and an upstream's per call\), but this process may open 96: raise the nofile limit or lower listen\.connections\.max\./),
    })
    // Once: counted after a later line of the worker that says it (a request's access line), as it writes in batches.
    const from = gp.output.length
    const once = new Agent()
    expect((await get(once, `${gp.url}/proxy/partner/after-start`)).status).toBe(200)
    once.destroy()
    await entriesWhen(gp, (e) => e.msg === 'request', 1, { from, timeoutMs: 30_000, what: 'the access line of a request after the start' })
    expect(gp.output.filter((l) => l.includes('"connection cap above the file descriptor limit"'))).toHaveLength(1)
  })

  it('is quiet when the limit holds twice the cap, or is unknown', () => {
    expect(descriptorShortfall(4096, 1_048_576)).toBeUndefined()
    expect(descriptorShortfall(4096, 8192)).toBeUndefined()
    expect(descriptorShortfall(4096, 8191)).toContain('may need 8192 file descriptors')
    expect(descriptorShortfall(10, undefined)).toBeUndefined()
    expect(descriptorShortfall(10, Number.NaN)).toBeUndefined()
  })
})

describe('file descriptor exhaustion', () => {
  it('answers 503 fd_exhausted, counts it, and turns readiness off', async () => {
    const admin = await adminUrlOf(gp)
    const calls = new Agent({ keepAlive: true, maxSockets: 1 })
    const probes = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect((await get(calls, `${gp.url}/proxy/partner/warm`)).status).toBe(200)
      expect((await get(probes, `${admin}/readyz`)).status).toBe(200)
      const port = Number(new URL(gp.url).port)
      // Open silent connections until the gateway can accept no more (it closes the ones it cannot take).
      for (let i = 0; i < 150; i++) silent.push(await rawClient(port))
      await eventually(() => silent.some((c) => c.socket.destroyed), 10_000, 'an accept to fail')
      const refused = await get(calls, `${gp.url}/proxy/fresh/needs-a-new-upstream-connection`)
      expect(refused.status).toBe(503)
      expect(JSON.parse(refused.text)).toMatchObject({ errors: [{ code: 503, msg: expect.stringMatching(/out of file descriptors/) }] })
      const ready = await get(probes, `${admin}/readyz`)
      expect(ready.status).toBe(503)
      expect(ready.text).toMatch(/file descriptors exhausted/)
      const m = parseMetrics((await get(probes, `${admin}/metrics`)).text)
      expect(valueOf(m, 'mtls_gateway_fd_exhausted_total', { where: 'request' })).toBeGreaterThanOrEqual(1)
      await eventually(() => gp.output.some((l) => l.includes('"reason":"fd_exhausted"') && l.includes('"status":503')), 30_000, 'the access line with reason fd_exhausted')
    } finally {
      calls.destroy()
      probes.destroy()
    }
  })
})

describe('file descriptor exhaustion of the --workers primary', () => {
  // The primary owns the admin listener and accepts every connection (node:cluster hands them
  // to the workers): when it runs out of descriptors (here: silent connections to the admin
  // port) the instance takes no new calls, so its /readyz says so, as a single process's does,
  // although every worker is fine; and it recovers once descriptors are back.
  let primary: GatewayProcess | undefined
  const held: RawClient[] = []
  afterAll(async () => {
    for (const c of held) c.socket.destroy()
    await primary?.stop('SIGKILL')
  })

  it('turns the primary\'s readiness off, naming the primary, and back on once descriptors are free', async () => {
    const tls = clientTls(pki)
    const file = join(pki.dir, 'primary.yaml')
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nstore: { file: ${join(pki.dir, 'primary.db')} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    primary = await spawnGateway(file, ['--workers', '2'], {}, ['prlimit', '--nofile=96:96'])
    const admin = await adminUrlOf(primary)
    const probes = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect(await get(probes, `${admin}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
      const port = Number(new URL(admin).port)
      for (let i = 0; i < 150; i++) held.push(await rawClient(port))
      await eventually(() => held.some((c) => c.socket.destroyed), 10_000, 'an admin accept to fail')
      const ready = await get(probes, `${admin}/readyz`)
      expect(ready.status).toBe(503)
      const body = JSON.parse(ready.text) as { status: string; reasons: string[] }
      expect(body.status).toBe('not_ready')
      expect(body.reasons).toContainEqual(expect.stringMatching(new RegExp(`^primary ${primary.child.pid}: file descriptors exhausted`)))
      // The workers were never short: no reason names one.
      expect(body.reasons.filter((r) => r.startsWith('worker '))).toEqual([])
      for (const c of held.splice(0)) c.socket.destroy()
      await eventually(async () => (await get(probes, `${admin}/readyz`)).status === 200, 30_000, 'readiness to come back')
    } finally {
      probes.destroy()
    }
  }, 120_000)
})
