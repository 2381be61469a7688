/**
 * A starting `--workers` worker has no timer of its own (it waits for its config as long as the
 * primary's reload in progress takes), so the two ends of its start are guarded elsewhere: a primary that
 * dies ends it (the IPC channel closes), and the primary kills one that does not start within
 * its start window (30 s and `--reload-timeout`, not counting the time the primary holds its
 * config), replacing it as a crashed one; while the instance drains, nothing replaces it, and the
 * kill's line says so.
 *
 * Fault injection, not timing: a worker is held at listen() (hold-listen.ts) for as long as the
 * test needs, and the primary's start windows (timers of exactly 30 s plus the odd
 * `--reload-timeout` 1234 ms) end when the test says (elapse-timer.ts), not 31 s later.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, exitedOf, type GatewayProcess } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { ELAPSE_TIMER } from '../support/elapse-timer.js'
import { childPids, eventually, scrape, valueOf } from './helpers.js'
import { sendSignal, take } from '../support/signals.js'

const use = useSpawnedGateways()

/** A start window's length with `--reload-timeout 1234ms`: no other timer of the primary lasts this long. */
const WINDOW_MS = 31_234

/** `serve --workers 2` whose workers hold listen() while `<dir>/<name>.hold` exists, and whose primary's start windows end when `<dir>/<name>.elapse` appears. */
async function startHeld(name: string, reloadTimeout: string): Promise<{ gp: GatewayProcess; hold: string; elapse: string; workers: number[] }> {
  const config = join(use.pki.dir, `${name}.yaml`)
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('first', 1, clientTls(use.pki))}`)
  const [hold, elapse] = [join(use.pki.dir, `${name}.hold`), join(use.pki.dir, `${name}.elapse`)]
  const preloads = `--require ${use.pki.write('hold-listen.cjs', HOLD_LISTEN)} --require ${use.pki.write('elapse-timer.cjs', ELAPSE_TIMER)}`
  const env = { NODE_OPTIONS: preloads, HOLD_LISTEN_FILE: hold, ELAPSE_TIMER_FILE: elapse, ELAPSE_TIMER_MS: String(WINDOW_MS) }
  const gp = await use.spawn(config, ['--workers', '2', '--reload-timeout', reloadTimeout], env)
  const primary = gp.child.pid as number
  const workers = (await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')).map((pid) => take(pid, primary))
  return { gp, hold, elapse, workers }
}

/** Kills `worker`; its replacement is held at listen(): its pid. */
async function replaceHeld(hold: string, worker: number): Promise<number> {
  writeFileSync(hold, '')
  sendSignal(worker, 'SIGKILL')
  const marker = await eventually(() => readdirSync(use.pki.dir).find((f) => f.startsWith(`${hold.split('/').pop() as string}.held-`)), 60_000, 'a replacement held at listen()')
  return Number(marker.split('-').pop())
}

/** A process that runs (not gone, not a zombie nobody reaps). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('serve --workers 2: a worker that starts', () => {
  it('waiting for its config during a reload, exits when the primary dies', async () => {
    const { gp, hold, workers } = await startHeld('primary-dies', '10m')
    const primary = gp.child.pid as number
    const from = gp.output.length
    try {
      const held = await replaceHeld(hold, workers[0] as number)
      sendSignal(primary, 'SIGHUP')
      await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload: waiting for starting workers to serve'), 30_000, 'the reload to wait')
      sendSignal(workers[1] as number, 'SIGKILL', primary)
      const waiting = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'a starting worker waits for the reload in progress to get its config'), 60_000, 'a replacement to wait for its config')
      sendSignal(primary, 'SIGKILL')
      await expect.poll(() => running(waiting.worker as number), { timeout: 30_000, message: 'the waiting worker to exit' }).toBe(false)
      await expect.poll(() => running(held), { timeout: 30_000, message: 'the held worker to exit' }).toBe(false)
    } finally {
      unlinkSync(hold)
    }
  }, 180_000)

  it('but does not serve within its start window is killed by the primary and replaced', async () => {
    const { gp, hold, elapse, workers } = await startHeld('stuck', '1234ms')
    const primary = gp.child.pid as number
    const admin = await adminUrlOf(gp)
    const from = gp.output.length
    let held: number
    try {
      held = await replaceHeld(hold, workers[0] as number)
      writeFileSync(elapse, '')
      const killed = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && typeof e.msg === 'string' && e.msg.startsWith('worker still starting')), 120_000, 'the primary to kill the held worker')
      expect(killed).toMatchObject({ level: 'error', worker: held, problem: `it did not start within ${WINDOW_MS} ms`, msg: 'worker still starting: killing it to replace it' })
      await eventually(() => !running(held) || undefined, 30_000, 'the held worker to exit')
    } finally {
      unlinkSync(hold)
    }
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'its replacement to serve')
    // The kill and the exit are one event, one line: written at the exit, with how it ended and when its replacement started.
    const about = gp.logEntries(from).filter((e) => e.pid === primary && e.worker === held)
    expect(about.map((e) => e.msg)).toEqual(['worker still starting: killing it to replace it'])
    expect(about[0]).toMatchObject({ signal: 'SIGKILL', restartInMs: expect.any(Number) })
    // The first worker's crash and the stuck one's.
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 2 || undefined, 30_000, 'both restarts counted')
  }, 240_000)

  it('but does not serve within its start window while the instance drains is killed, and the line says nothing replaces it', async () => {
    const { gp, hold, elapse, workers } = await startHeld('draining', '1234ms')
    const primary = gp.child.pid as number
    const from = gp.output.length
    let held = 0
    let draining = from
    try {
      held = await replaceHeld(hold, workers[0] as number)
      // Stopped, the held worker takes the drain's SIGTERM only once it runs again: it is still starting when its window ends.
      sendSignal(held, 'SIGSTOP', primary)
      draining = gp.output.length
      sendSignal(primary, 'SIGTERM')
      await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'draining every worker'), 60_000, 'the drain')
      writeFileSync(elapse, '')
      const killed = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && typeof e.msg === 'string' && e.msg.startsWith('worker still starting')), 120_000, 'the primary to kill the held worker')
      expect(killed).toMatchObject({ level: 'error', worker: held, problem: `it did not start within ${WINDOW_MS} ms`, msg: 'worker still starting while the instance drains: killing it, and nothing replaces it' })
      expect(await exitedOf(gp.child)).toBe(0)
    } finally {
      unlinkSync(hold)
      if (running(held)) sendSignal(held, 'SIGKILL', primary)
    }
    expect(gp.logEntries(draining).filter((e) => e.pid === primary && /replacing it$|^replacement/.test(String(e.msg)))).toEqual([])
    // One line for the kill and its exit.
    expect(gp.logEntries(from).filter((e) => e.pid === primary && e.worker === held).map((e) => e.msg)).toEqual(['worker still starting while the instance drains: killing it, and nothing replaces it'])
  }, 240_000)
})
