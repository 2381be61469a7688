/**
 * A `--workers` primary killed outright (SIGKILL, the OOM killer) leaves its workers no one to hand
 * them connections: each notices at once (its IPC channel closes), drains (`draining` with trigger
 * `primary exited`), lets the requests it holds finish and exits. Before, node:cluster ended each
 * worker as the channel closed, cutting those requests (`socket hang up` for the callers).
 *
 * Real processes: `serve --workers 2`, a real mTLS backend that holds requests until released.
 */
import type { ServerResponse } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { childPids, eventually, isAlive } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { sendSignal, take } from '../support/signals.js'

const held: ServerResponse[] = []
const w = useTwoWorkers({ handler: (_req, res) => void held.push(res) })
let workers: number[] = []

afterAll(() => {
  for (const res of held) res.end()
  // Workers this test orphaned, if they outlived it: only our own pids.
  for (const pid of workers.filter(isAlive)) sendSignal(pid, 'SIGKILL')
})

describe('serve --workers 2 whose primary is killed', () => {
  it('has its workers drain: the requests in flight finish, then they exit', async () => {
    const { gp } = w
    const primary = gp.child.pid as number
    workers = childPids(primary).map((pid) => take(pid, primary))
    expect(workers).toHaveLength(2)
    // Round-robin: two held requests on each worker.
    const slow = [1, 2, 3, 4].map((i) => send(gp.url, `/proxy/partner/slow-${i}`))
    await eventually(() => held.length === 4 || undefined, 30_000, 'the backend to hold 4 requests')
    const from = gp.output.length
    sendSignal(primary, 'SIGKILL')
    const draining = (): Record<string, unknown>[] => gp.logEntries(from).filter((e) => e.trigger === 'primary exited' && String(e.msg).startsWith('draining'))
    await eventually(() => draining().length === 2 || undefined, 30_000, 'both workers to drain')
    expect(draining().map((e) => e.pid).sort()).toEqual([...workers].sort())
    expect(workers.every(isAlive)).toBe(true)
    for (const res of held) res.end('done')
    const replies = await Promise.all(slow)
    expect(replies.map((r) => [r.status, r.body.toString()])).toEqual(Array(4).fill([200, 'done']))
    await eventually(() => workers.every((p) => !isAlive(p)) || undefined, 30_000, 'both workers to exit')
    // Their last lines are read once the output ended (an exited process's last batch may still be in the pipe).
    await gp.ended
    // They exit once their last request ended, not when the drain grace (35 s) runs out: each says so, none ran out.
    expect(gp.logEntries(from).filter((e) => e.msg === 'drained: exiting').map((e) => e.pid).sort()).toEqual([...workers].sort())
    expect(gp.logEntries(from).filter((e) => String(e.msg).startsWith('grace period over'))).toEqual([])
  }, 120_000)
})
