/**
 * A signal to the whole process group of a `--workers` instance is one drain. systemd's default
 * KillMode=control-group sends SIGTERM to every process of the unit, so each worker gets it
 * directly as well as the primary's drain order. Before, whichever of the two came second was
 * "a second signal while draining": the worker exited at once (code 1), cutting its in-flight
 * requests, and the instance exited 1. Now a worker's own signal and the primary's order are one
 * drain: in-flight requests finish, with the accepted grace, and the instance exits 0. A second
 * signal of the same kind still exits at once (the primary's second signal is a second order).
 *
 * Real processes: `serve --workers 2` in a session (and process group) of its own (setsid), a real
 * TLS upstream that holds /slow requests until released. Only that group is signalled.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { exitedOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { childPids, eventually } from './helpers.js'
import { sendSignal, signalGroup } from '../support/signals.js'

let pki: TestPki
let upstream: RunningServer
let config: string
let gp: GatewayProcess | undefined
let held: (() => void)[] = []
const release = (): void => void held.splice(0).forEach((go) => go())

const DRAINING = 'draining: no new connections, waiting for in-flight requests'
const SECOND = 'second signal while draining: exiting now'

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void => void (req.url?.includes('slow') ? held.push(() => echo(req, res)) : echo(req, res))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 30s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
}, 120_000)

afterEach(async () => {
  release()
  // The group this test created (setsid: its id is the primary's pid), and nothing else.
  const pgid = gp?.child.pid
  if (pgid !== undefined && gp?.child.exitCode === null) signalGroup(gp.child, 'SIGKILL')
  await gp?.stop('SIGKILL')
  gp = undefined
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

interface Holding {
  gp: GatewayProcess
  primary: number
  workers: number[]
  /** The held requests' statuses (or errors), one per worker. */
  slow: Promise<number | string>[]
  /** Output line where the test's signals begin. */
  from: number
  exit: Promise<number | null>
}

/** `serve --workers 2` as the leader of a new session and process group; two held requests, one per worker. */
async function startHolding(): Promise<Holding> {
  gp = await spawnGateway(config, ['--workers', '2'], {}, ['setsid'])
  const primary = gp.child.pid as number
  const workers = childPids(primary)
  expect(workers).toHaveLength(2)
  // Round-robin: one held request on each worker.
  const url = gp.url
  const slow = [1, 2].map((i) => send(url, `/proxy/partner/slow-${i}`).then((r) => r.status, (e: Error) => e.message))
  await eventually(() => held.length === 2, 30_000, 'the upstream to hold 2 requests')
  return { gp, primary, workers, slow, from: gp.output.length, exit: exitedOf(gp.child) }
}

const said = (h: Holding, pid: number, msgs: string[]): boolean => h.gp.logEntries(h.from).some((e) => e.pid === pid && msgs.includes(e.msg as string))
const ONE_DRAIN = 'own signal while the primary drains this worker: one drain'

/** Until each worker had both its own signal and the primary's order (logged whichever came second), or exited at the second. */
async function bothReached(h: Holding): Promise<void> {
  for (const w of h.workers) await eventually(() => said(h, w, ['drain grace set by the primary', ONE_DRAIN, SECOND]), 30_000, `worker ${w} to get both`)
}

/** The held requests finish 200, no worker took a second signal, the instance exits 0. */
async function drainedWhole(h: Holding): Promise<void> {
  release()
  expect(await Promise.all(h.slow)).toEqual([200, 200])
  // Read once the output ended: until then a worker's line may still be in its batch.
  expect(await h.exit).toBe(0)
  expect(h.gp.logEntries(h.from).filter((e) => e.msg === SECOND)).toEqual([])
}

/** The instance exits 1 at once, the held requests ended: each told 503 drain_ended (drain-ended.test.ts), not hung up on. */
async function cutAtOnce(h: Holding): Promise<void> {
  expect(await h.exit).toBe(1)
  expect(await Promise.all(h.slow)).toEqual([503, 503])
}

/** SIGTERM to the primary alone, until every worker began its drain. */
async function primaryDrains(h: Holding): Promise<void> {
  h.gp.child.kill('SIGTERM')
  for (const w of h.workers) await eventually(() => said(h, w, [DRAINING]), 30_000, `worker ${w} to drain`)
}

describe('a SIGTERM to the whole process group of a --workers instance', () => {
  it('is one drain per worker: the held requests finish 200 and the instance exits 0', async () => {
    const h = await startHolding()
    signalGroup(h.gp.child, 'SIGTERM')
    await bothReached(h)
    await drainedWhole(h)
  }, 120_000)

  it('SIGINT to the group (Ctrl-C in a terminal) is one drain too: workers leave SIGINT to the primary', async () => {
    const h = await startHolding()
    signalGroup(h.gp.child, 'SIGINT')
    for (const w of h.workers) await eventually(() => said(h, w, [DRAINING]), 30_000, `worker ${w} to drain`)
    await drainedWhole(h)
  }, 120_000)

  it('is one drain when the primary\'s order reaches a worker before its own signal', async () => {
    const h = await startHolding()
    // The order a group signal can take: the primary's drain (IPC) first, then the worker's own SIGTERM.
    await primaryDrains(h)
    for (const w of h.workers) sendSignal(w, 'SIGTERM', h.primary)
    for (const w of h.workers) await eventually(() => said(h, w, [ONE_DRAIN, SECOND]), 30_000, `worker ${w} to take its signal`)
    await drainedWhole(h)
  }, 120_000)

  it('still exits at once on a second group SIGTERM, cutting the held requests', async () => {
    const h = await startHolding()
    signalGroup(h.gp.child, 'SIGTERM')
    await bothReached(h)
    signalGroup(h.gp.child, 'SIGTERM')
    await cutAtOnce(h)
  }, 120_000)

  it('still exits at once on a second SIGTERM to the primary alone: each worker gets a second order', async () => {
    const h = await startHolding()
    await primaryDrains(h)
    h.gp.child.kill('SIGTERM')
    await cutAtOnce(h)
    for (const w of h.workers) await eventually(() => said(h, w, [SECOND]), 10_000, `worker ${w} to exit at the second order`)
  }, 120_000)
})
