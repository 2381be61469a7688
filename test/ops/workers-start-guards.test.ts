/**
 * A starting `--workers` worker has no timer of its own (it waits for its config as long as the
 * primary's reload in progress takes), so the two ends of its start are guarded elsewhere: a primary that
 * dies ends it (the IPC channel closes), and the primary kills one that does not start within
 * its start window (30 s and `--reload-timeout`, not counting the time the primary holds its
 * config), replacing it as a crashed one.
 *
 * Fault injection, not timing: a worker is held at listen() (hold-listen.ts) for as long as the test needs.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { childPids, eventually, scrape, valueOf } from './helpers.js'

const use = useSpawnedGateways()

/** `serve --workers 2` whose workers hold listen() while `<dir>/<name>.hold` exists. */
async function startHeld(name: string, reloadTimeout: string): Promise<{ gp: GatewayProcess; hold: string; workers: number[] }> {
  const config = join(use.pki.dir, `${name}.yaml`)
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('first', 1, clientTls(use.pki))}`)
  const hold = join(use.pki.dir, `${name}.hold`)
  const gp = await use.spawn(config, ['--workers', '2', '--reload-timeout', reloadTimeout], { NODE_OPTIONS: `--require ${use.pki.write('hold-listen.cjs', HOLD_LISTEN)}`, HOLD_LISTEN_FILE: hold })
  const primary = gp.child.pid as number
  const workers = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')
  return { gp, hold, workers }
}

/** Kills `worker`; its replacement is held at listen(): its pid. */
async function replaceHeld(hold: string, worker: number): Promise<number> {
  writeFileSync(hold, '')
  process.kill(worker, 'SIGKILL')
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
      process.kill(primary, 'SIGHUP')
      await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload: waiting for starting workers to serve'), 30_000, 'the reload to wait')
      process.kill(workers[1] as number, 'SIGKILL')
      const waiting = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'a starting worker waits for the reload in progress to get its config'), 60_000, 'a replacement to wait for its config')
      process.kill(primary, 'SIGKILL')
      await eventually(() => !running(waiting.worker as number) || undefined, 30_000, 'the waiting worker to exit')
      await eventually(() => !running(held) || undefined, 30_000, 'the held worker to exit')
    } finally {
      unlinkSync(hold)
    }
  }, 180_000)

  it('but does not serve within its start window is killed by the primary and replaced', async () => {
    const { gp, hold, workers } = await startHeld('stuck', '1s')
    const primary = gp.child.pid as number
    const admin = await adminUrlOf(gp)
    const from = gp.output.length
    let held: number
    try {
      held = await replaceHeld(hold, workers[0] as number)
      const killed = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'worker still starting: killing it to replace it'), 120_000, 'the primary to kill the held worker')
      expect(killed).toMatchObject({ level: 'error', worker: held, problem: 'it did not start within 31000 ms' })
      await eventually(() => !running(held) || undefined, 30_000, 'the held worker to exit')
    } finally {
      unlinkSync(hold)
    }
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'its replacement to serve')
    // The first worker's crash and the stuck one's.
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 2 || undefined, 30_000, 'both restarts counted')
  }, 240_000)
})
