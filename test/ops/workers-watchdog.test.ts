import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { childPids, eventually, get, isAlive, scrape, valueOf } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { sendSignal } from '../support/signals.js'

// A worker whose event loop stops (here: SIGSTOP) answers nothing but does not exit. The primary's
// /healthz stays 200, so no liveness probe restarts the pod, and /readyz said "no readiness
// answer" for ever while the primary kept handing the wedged worker connections. The primary's
// watchdog kills such a worker, which is then replaced like a crashed one.
let stopped: number | undefined
const w = useTwoWorkers({
  beforeStop: () => {
    if (stopped !== undefined) {
      try {
        sendSignal(stopped, 'SIGKILL')
      } catch {
        // already gone: the watchdog killed it
      }
    }
  },
})

const workerPids = (): number[] => childPids(w.gp.child.pid as number)

describe('serve --workers 2: a wedged worker', () => {
  it('is killed and replaced, so the instance is ready again and serves every request', async () => {
    const { gp, admin } = w
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, 30_000, 'readiness')
    const pids = workerPids()
    expect(pids).toHaveLength(2)
    stopped = pids[0] as number
    sendSignal(stopped, 'SIGSTOP', gp.child.pid)
    await eventually(() => !isAlive(stopped as number) || undefined, 60_000, 'the primary to kill the silent worker')
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 1, 30_000, 'the restart to be counted')
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, START_DEADLINE_MS, 'readiness after the replacement')
    // The primary's log lines reach this pipe in batches: wait for it rather than read it once.
    await eventually(() => gp.output.some((l) => l.includes('worker answers nothing: killing it to replace it')) || undefined, 30_000, 'the watchdog\'s log line')
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => send(gp.url, `/proxy/partner/after-${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200))
  }, 150_000)
})
