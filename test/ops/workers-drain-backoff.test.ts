/**
 * A drain that begins while a crashed worker's replacement waits out the crash backoff calls the
 * replacement off and says so. The primary had logged `worker exited unexpectedly: replacing it`
 * with `restartInMs`; before, the drain dropped the replacement silently (the promise stood in the
 * log); now `replacement cancelled: the instance is draining` names that worker, nothing is forked
 * during the drain, and the instance exits once the other worker drained.
 *
 * A worker killed once the drain began (killed to be replaced just before it, or by the OOM killer)
 * is said not replaced: `worker killed while the instance drains: nothing replaces it`.
 *
 * Real processes: `serve --workers 2`; workers crash by SIGKILL until the backoff is long enough.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ServerResponse } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { exitedOf } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { childPids, eventually } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()
const held: ServerResponse[] = []
const w = useTwoWorkers({ before: 'drain: { grace: 60s }\n', handler: (_req, res) => void held.push(res), spawn: 'none' })
afterAll(() => held.forEach((res) => res.end()))
const CRASHED = 'worker exited unexpectedly: replacing it'
/** A backoff this long leaves the test ample time to send SIGTERM inside it (100 ms doubling per crash in 30 s). */
const LONG_BACKOFF_MS = 3200

describe('serve --workers 2: a drain during a replacement backoff', () => {
  it('cancels the replacement, says so, and forks nothing', async () => {
    const config = join(use.pki.dir, 'backoff.yaml')
    writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('partner', 1, clientTls(use.pki))}`)
    const gp = await use.spawn(config, ['--workers', '2'])
    const primary = gp.child.pid as number
    const seen = new Set(childPids(primary))
    let victim = [...seen][0] as number
    let crash: Record<string, unknown> | undefined
    // Each replacement is killed as soon as it is forked: a crash loop, whose backoff doubles.
    for (;;) {
      const from = gp.output.length
      sendSignal(victim, 'SIGKILL', primary)
      crash = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === CRASHED && e.worker === victim), 30_000, 'the crash line')
      if ((crash.restartInMs as number) >= LONG_BACKOFF_MS) break
      victim = await eventually(() => childPids(primary).find((p) => !seen.has(p)), 30_000, 'the replacement')
      seen.add(victim)
    }
    const from = gp.output.length
    sendSignal(primary, 'SIGTERM')
    await gp.ended
    const after = gp.logEntries(from)
    expect(after.filter((e) => e.msg === 'replacement cancelled: the instance is draining').map((e) => [e.pid, e.worker])).toEqual([[primary, victim]])
    expect(after.find((e) => e.pid === primary && e.msg === 'all workers drained: exiting')).toBeDefined()
    // Only the primary and workers forked before the drain wrote anything after it: no replacement started.
    expect(after.filter((e) => e.pid !== primary && !seen.has(e.pid as number))).toEqual([])
    expect(gp.child.exitCode).toBe(0)
  }, 240_000)
})

describe('serve --workers 2: a worker killed while the instance drains', () => {
  w.ownInstance()
  it('is said not replaced, and the instance exits 1 (its requests were cut)', async () => {
    const { gp } = w
    const primary = gp.child.pid as number
    const slow = [1, 2].map((i) => send(gp.url, `/proxy/partner/slow-${i}`).catch((e: unknown) => String(e)))
    await eventually(() => held.length === 2 || undefined, 30_000, 'the backend to hold a request of each worker')
    const from = gp.output.length
    const exit = exitedOf(gp.child)
    sendSignal(primary, 'SIGTERM')
    await eventually(() => new Set(gp.logEntries(from).filter((e) => String(e.msg).startsWith('draining: no new connections')).map((e) => e.pid)).size === 2 || undefined, 30_000, 'both workers to drain')
    const [victim] = childPids(primary) as [number, number]
    sendSignal(victim, 'SIGKILL', primary)
    const line = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'worker killed while the instance drains: nothing replaces it'), 30_000, 'the line')
    expect(line.worker).toBe(victim)
    for (const res of held) res.end('done')
    await Promise.all(slow)
    expect(await exit).toBe(1)
    expect(gp.logEntries(from).filter((e) => e.msg === CRASHED)).toEqual([])
  }, 120_000)
})
