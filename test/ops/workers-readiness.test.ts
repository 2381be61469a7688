/**
 * With `--workers 2`, readiness asks only the workers that serve: while a crashed worker's
 * replacement cannot start and the primary keeps trying,
 * the survivor serves every call and `/readyz` stays 200 at every poll. It used to ask the
 * replacement too while it was starting, and answered 503 "no readiness answer" now and then, so
 * Kubernetes could take a pod that serves out of its Service.
 *
 * The fault: a preload makes a worker's listen() throw while a marker file exists, so the
 * replacement fails its start (reports it, exits 1) until the marker goes. (A missing bundle file
 * no longer does: every worker builds from the bytes the primary read when it accepted the config.)
 */
import { copyFileSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, get, scrape, valueOf } from './helpers.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess | undefined
let dir: string
let failMarker: string

const PRELOAD = `
const cluster = require('node:cluster'), net = require('node:net'), fs = require('node:fs')
const marker = process.env.FAIL_START_FILE
if (cluster.isWorker && marker) {
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    if (fs.existsSync(marker)) throw new Error('injected start failure')
    return listen.apply(this, args)
  }
}
`

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = join(pki.dir, 'bundle')
  mkdirSync(dir)
  for (const f of ['client.crt', 'client.key', 'inter.crt', 'root.crt']) copyFileSync(pki.file(f), join(dir, f))
  const tls = { cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), intermediates: join(dir, 'inter.crt'), roots: join(dir, 'root.crt') }
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
  failMarker = join(pki.dir, 'fail-start')
  const preload = pki.write('fail-start.cjs', PRELOAD)
  gp = await spawnGateway(file, ['--workers', '2'], { NODE_OPTIONS: `--require ${preload}`, FAIL_START_FILE: failMarker })
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

/** The worker pids that wrote access lines so far. */
const workerPids = (): number[] => [...new Set((gp as GatewayProcess).output.filter((l) => l.includes('"msg":"request"')).map((l) => (JSON.parse(l) as { pid: number }).pid))]

describe('readiness with a crash-looping replacement worker', () => {
  it('stays 200 at every poll while the survivor serves; the replacement serves once it can start', async () => {
    const g = gp as GatewayProcess
    const admin = await adminUrlOf(g)
    for (let i = 0; i < 8; i++) expect((await send(g.url, `/proxy/partner/warm-${i}`)).status).toBe(200)
    const pids = await eventually(() => workerPids().length === 2 && workerPids(), 20_000, 'both workers serving')
    // While the marker exists a replacement fails its start.
    writeFileSync(failMarker, '')
    sendSignal(pids[0] as number, 'SIGKILL', g.child.pid)
    await eventually(async () => (valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') ?? 0) >= 2, 30_000, 'a replacement to fail and be replaced again')
    const statuses: number[] = []
    const reasons: string[] = []
    for (let i = 0; i < 60; i++) {
      const r = await get(`${admin}/readyz`)
      statuses.push(r.status)
      if (r.status !== 200) reasons.push(r.text)
      expect((await send(g.url, `/proxy/partner/during-${i}`)).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(reasons).toEqual([])
    expect(statuses).toEqual(Array(60).fill(200))
    unlinkSync(failMarker)
    await eventually(() => g.output.some((l) => l.includes('"replacement worker listening"')), START_DEADLINE_MS, 'the replacement to listen')
    expect((await get(`${admin}/readyz`)).status).toBe(200)
  }, 120_000)
})
