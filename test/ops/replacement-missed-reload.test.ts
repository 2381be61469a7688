/**
 * A replacement worker gets the instance's config texts, then compiles and starts listening. A
 * reload that comes in between waits until the replacement serves, then reaches it as well as its
 * siblings: no worker ever serves a config the instance left behind.
 *
 * Before, the primary relayed the reload to the serving workers only; the replacement, once
 * serving, asked for the texts again and reloaded ("caught up") on its own, and nobody looked at
 * that result: when its catch-up failed (here an injected failure to build a TLS context, only in
 * the replacement) the instance reported the reload accepted while the replacement kept serving
 * the old config (every other request 403 for the endpoint the reload added).
 *
 * A replacement still starting after the answer timeout (`--reload-timeout`, 30 s by default) is
 * killed (it served nothing), counted as a deliberate drain
 * (`worker_drains_total{reason="start_outlasted_reload"}`), and replaced.
 *
 * Fault injection, not timing: a preload holds the replacement's listen() while a marker file
 * exists, so the reload deterministically lands in that window; a second marker makes a held
 * process (one whose held marker is still there) fail to build TLS contexts.
 */
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { flushedBy } from '../support/log-entries.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { childPids, eventually, RELOAD_REFUSED, scrape, valueOf } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const PRELOAD = `${HOLD_LISTEN}
{
const cluster = require('node:cluster'), fs = require('node:fs'), tls = require('node:tls')
const hold = process.env.HOLD_LISTEN_FILE, fail = process.env.FAIL_BUILD_FILE
if (cluster.isWorker && hold) {
  const create = tls.createSecureContext
  tls.createSecureContext = function (...args) {
    if (fs.existsSync(hold + '.held-' + process.pid) && fs.existsSync(fail)) throw new Error('injected: this worker cannot build a TLS context')
    return create.apply(this, args)
  }
  require('node:module').syncBuiltinESMExports()
}
}
`

let pki: TestPki
let gp: GatewayProcess
let config: string
let hold: string
let fail: string
let tls: Parameters<typeof endpointYaml>[2]
let preload: string
/** The last test's `--reload-timeout`: long enough for a serving worker to answer a reload on a loaded machine. */
const RELOAD_TIMEOUT_S = 8

const entries = (from = 0): Record<string, unknown>[] => gp.logEntries(from)
const yaml = (names: string[]): string =>
  // No upstream listens on port 1: a configured endpoint answers 502 (dial refused), an unknown one 403.
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${names.map((n) => endpointYaml(n, 1, tls)).join('')}`
const PRIMARY_RELOAD_LINES = ['reload: relaying to every worker', 'reload: waiting for starting workers to serve']

/** Kills one worker with the hold marker present; the replacement's pid once it is held at listen(). */
async function replacementHeld(): Promise<number> {
  const primary = gp.child.pid as number
  for (const f of readdirSync(pki.dir)) if (f.startsWith('hold-listen.held-')) unlinkSync(join(pki.dir, f))
  writeFileSync(hold, '')
  sendSignal(childPids(primary)[0] as number, 'SIGKILL')
  const marker = await eventually(() => readdirSync(pki.dir).find((f) => f.startsWith('hold-listen.held-')), 60_000, 'the replacement to reach listen()')
  return Number(marker.slice('hold-listen.held-'.length))
}

/** Each call on its own connection: the primary hands connections to the workers in turn. */
async function statuses(path: string): Promise<number[]> {
  const out = []
  for (let i = 0; i < 8; i++) out.push((await send(gp.url, `${path}${i}`)).status)
  return out
}

beforeAll(async () => {
  pki = await createTestPki()
  tls = clientTls(pki)
  config = join(pki.dir, 'gateway.yaml')
  hold = join(pki.dir, 'hold-listen')
  fail = join(pki.dir, 'fail-build')
  preload = pki.write('hold-listen.cjs', PRELOAD)
  gp = await startHeldGateway([])
}, 120_000)

/** `serve --workers 2` on a one-endpoint config, with the preload that holds a replacement at listen(). */
function startHeldGateway(args: string[]): Promise<GatewayProcess> {
  writeFileSync(config, yaml(['first']))
  return spawnGateway(config, ['--workers', '2', ...args], { NODE_OPTIONS: `--require ${preload}`, HOLD_LISTEN_FILE: hold, FAIL_BUILD_FILE: fail })
}

afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki?.cleanup()
})

describe('a reload while a replacement worker starts', () => {
  it('waits until the replacement serves, then reaches it too: every worker serves the reloaded config', async () => {
    const primary = gp.child.pid as number
    const from = gp.output.length
    const replacement = await replacementHeld()
    // The watcher's reload alone (no SIGHUP): a SIGHUP would leave the watcher's own reload of the
    // same bytes queued behind it, to be accepted after this test's last look, in the next test's log.
    writeFileSync(config, yaml(['first', 'second']))
    await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === 'reload: waiting for starting workers to serve'), 30_000, 'the reload to wait for the replacement')
    // No worker reloaded meanwhile: read after a later line of the serving worker (a call's), as it writes in batches.
    await flushedBy(gp, childPids(primary).filter((p) => p !== replacement), (tag) => send(gp.url, '/proxy/first/after-the-wait', { headers: { 'x-request-id': tag } }))
    expect(entries(from).filter((e) => e.msg === 'config reloaded')).toEqual([])
    unlinkSync(hold)
    await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === 'reload accepted by every worker' && e.trigger === 'file change'), 60_000, 'the reload to be accepted')
    // Each process writes its own lines, in batches: the replacement's may follow the primary's.
    await eventually(() => entries(from).some((e) => e.pid === replacement && e.msg === 'config reloaded' && e.endpoints === 2), 30_000, 'the replacement to log the reload')
    expect(await statuses('/proxy/second/a')).toEqual(Array(8).fill(502))
  }, 180_000)

  it('that the replacement cannot build fails loudly, naming it, and no worker serves it', async () => {
    const primary = gp.child.pid as number
    const from = gp.output.length
    const replacement = await replacementHeld()
    writeFileSync(config, yaml(['first', 'second', 'third']))
    sendSignal(primary, 'SIGHUP')
    await eventually(() => entries(from).some((e) => e.pid === primary && PRIMARY_RELOAD_LINES.includes(e.msg as string)), 30_000, 'the primary to take up the reload')
    writeFileSync(fail, '')
    unlinkSync(hold)
    try {
      await eventually(() => entries(from).some((e) => e.pid === replacement && e.msg === RELOAD_REFUSED), 60_000, 'the replacement to refuse the reload')
      const verdict = await eventually(() => entries(from).find((e) => e.pid === primary && e.trigger === 'SIGHUP' && (e.msg === RELOAD_REFUSED || e.msg === 'reload accepted by every worker')), 60_000, 'the verdict')
      expect(verdict).toMatchObject({ msg: RELOAD_REFUSED, problems: [expect.stringMatching(new RegExp(`^worker ${replacement}: .*injected: this worker cannot build a TLS context`))] })
      await eventually(() => entries(from).some((e) => e.msg === 'config reloaded' && e.trigger === 'rollback of SIGHUP'), 30_000, 'the other worker to go back')
      // Writing the file also started a reload (the watcher's, queued behind the SIGHUP's): the
      // replacement must meet it still unable to build, or it may accept the file once the marker goes.
      const second = await eventually(() => entries(from).find((e) => e.pid === primary && e.trigger === 'file change' && (e.msg === RELOAD_REFUSED || e.msg === 'reload accepted by every worker')), 60_000, "the file change's verdict")
      expect(second.msg).toBe(RELOAD_REFUSED)
      await eventually(() => entries(from).some((e) => e.msg === 'config reloaded' && e.trigger === 'rollback of file change'), 30_000, 'the other worker to go back again')
    } finally {
      unlinkSync(fail)
    }
    // The instance kept the config before it ("second" known, "third" not) on every worker.
    expect(await statuses('/proxy/second/b')).toEqual(Array(8).fill(502))
    expect(await statuses('/proxy/third/b')).toEqual(Array(8).fill(403))
  }, 180_000)

  it('kills and replaces a replacement still starting after the answer timeout (--reload-timeout); the reload then goes on', async () => {
    // A gateway of its own, so the wait for the stuck replacement is the flag's, not the default 30 s.
    await gp.stop('SIGKILL')
    gp = await startHeldGateway(['--reload-timeout', `${RELOAD_TIMEOUT_S}s`])
    const primary = gp.child.pid as number
    const from = gp.output.length
    const stuck = await replacementHeld()
    writeFileSync(config, yaml(['first', 'fourth']))
    sendSignal(primary, 'SIGHUP')
    const killed = await eventually(() => entries(from).find((e) => e.pid === primary && e.msg === 'worker still starting when a reload came: killing and replacing it'), 90_000, 'the stuck replacement to be killed')
    expect(killed.worker).toBe(stuck)
    expect(killed.problem).toBe(`it did not serve within ${RELOAD_TIMEOUT_S * 1000} ms, and would serve the config before this reload`)
    await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === 'reload accepted by every worker'), 60_000, 'the reload to be accepted')
    // Its replacement got the reloaded config's texts (it is held too until the marker goes).
    unlinkSync(hold)
    // The kill and its exit are one line, written at the exit: deliberate (its reason), with when the replacement starts.
    await eventually(() => entries(from).some((e) => e.pid === primary && e.worker === stuck && e.restartInMs !== undefined), 30_000, 'the kill\'s exit to be logged')
    const about = entries(from).filter((e) => e.pid === primary && e.worker === stuck)
    expect(about.map((e) => e.msg)).toEqual(['worker still starting when a reload came: killing and replacing it'])
    expect(about[0]).toMatchObject({ reason: 'start_outlasted_reload', signal: 'SIGKILL' })
    await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'its replacement to serve')
    expect(await statuses('/proxy/fourth/c')).toEqual(Array(8).fill(502))
    const metrics = await scrape(await adminUrlOf(gp))
    expect(valueOf(metrics, 'mtls_gateway_worker_drains_total', { reason: 'start_outlasted_reload' })).toBe(1)
    // This gateway's one SIGKILL from the test is the crash; the primary's kill is not one.
    expect(valueOf(metrics, 'mtls_gateway_worker_restarts_total')).toBe(1)
    expect(existsSync(hold)).toBe(false)
  }, 240_000)
})
