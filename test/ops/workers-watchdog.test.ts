import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, get, scrape, valueOf } from './helpers.js'

// A worker whose event loop stops (here: SIGSTOP) answers nothing but does not exit. The primary's
// /healthz stays 200, so no liveness probe restarts the pod, and /readyz said "no readiness
// answer" for ever while the primary kept handing the wedged worker connections. The primary's
// watchdog kills such a worker, which is then replaced like a crashed one.
let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
let admin: string
let stopped: number | undefined

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const tls = clientTls(pki)
  const config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
  gp = await spawnGateway(config, ['--workers', '2'])
  admin = await adminUrlOf(gp)
}, 120_000)
afterAll(async () => {
  if (stopped !== undefined) {
    try {
      process.kill(stopped, 'SIGKILL')
    } catch {
      // already gone: the watchdog killed it
    }
  }
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

const workerPids = (): number[] =>
  execFileSync('pgrep', ['-P', String(gp.child.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('serve --workers 2: a wedged worker', () => {
  it('is killed and replaced, so the instance is ready again and serves every request', async () => {
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, 30_000, 'readiness')
    const pids = workerPids()
    expect(pids).toHaveLength(2)
    stopped = pids[0] as number
    process.kill(stopped, 'SIGSTOP')
    await eventually(() => !alive(stopped as number) || undefined, 60_000, 'the primary to kill the silent worker')
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 1, 30_000, 'the restart to be counted')
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, 30_000, 'readiness after the replacement')
    // The primary's log lines reach this pipe in batches: wait for it rather than read it once.
    await eventually(() => gp.output.some((l) => l.includes('worker answers nothing: killing it to replace it')) || undefined, 30_000, 'the watchdog\'s log line')
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => send(gp.url, `/proxy/partner/after-${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200))
  }, 150_000)
})
