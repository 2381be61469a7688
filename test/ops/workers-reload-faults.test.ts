/**
 * A `--workers` instance's drain while a worker is already leaving, a worker that exits during a
 * reload, and a drain while a replacement is still starting (review rev-U).
 *
 * A worker that cannot go back after a failed reload is drained (SIGTERM) and replaced. When the
 * instance was drained before it had finished, the primary sent it a second SIGTERM, which a
 * worker takes as "exit now": its in-flight requests were cut and the primary exited 1. (Here
 * it cannot go back because the reload made it open a store at another file, README.)
 *
 * A worker that exits before it answered a reload fails it at once (its reason names the exit);
 * before, the reload waited out its 30 s answer timeout, and so did a replacement's start.
 *
 * A drain while a replacement is starting (here it waits for the config texts while a reload is
 * pending) ends that replacement before it serves anything. Before, its exit counted as a worker
 * cut short and the primary exited 1 ("a worker exited before its requests finished").
 *
 * Real processes: `serve --workers 2`, a real TLS upstream that holds /slow requests until released.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { exitedOf } from '../support/process.js'
import { echo } from '../support/tls-server.js'
import { childPids, eventually, RELOAD_REFUSED, replaceFile } from './helpers.js'
import { leaverHoldingRequests, useTwoWorkers } from './two-workers.js'
import { sendSignal } from '../support/signals.js'

/** The log entries from output line `from` (gp.output.length before the action: the ready lines are output, not entries). */
const entries = (from: number): Record<string, unknown>[] => w.gp.logEntries(from)
const said = (pid: number, msgs: string[], from: number): Record<string, unknown> | undefined => entries(from).find((e) => e.pid === pid && msgs.includes(e.msg as string))

let held: (() => void)[] = []
const release = (): void => void held.splice(0).forEach((go) => go())

const handler = (req: IncomingMessage, res: ServerResponse): void => void (req.url?.includes('slow') ? held.push(() => echo(req, res)) : echo(req, res))
// Each describe starts its own `serve --workers 2` (each ends with a drain).
const w = useTwoWorkers({ before: 'drain: { grace: 60s }\n', handler, spawn: 'none' })

describe('a drain while a worker that could not go back is leaving', () => {
  w.ownInstance(release)
  it('lets that worker finish its requests too: it is told to drain once', async () => {
    const { gp } = w
    // Caller apps need the store: the refuser cannot open it, the leaver opens store.db and cannot go back.
    const { primary, refuser, leaver, slow, from } = await leaverHoldingRequests(w, () => held.length)
    const exit = exitedOf(gp.child)
    gp.child.kill('SIGTERM')
    await eventually(() => said(primary, ['draining every worker'], from), 30_000, 'the drain to begin')
    // Let the primary's signals reach the workers before the requests end.
    await eventually(() => said(refuser, ['draining: no new connections, waiting for in-flight requests'], from), 30_000, 'the refuser to drain')
    release()
    const replies = (await Promise.allSettled(slow)).map((r) => (r.status === 'fulfilled' ? r.value.status : String(r.reason)))
    expect(replies).toEqual([200, 200, 200, 200])
    expect(await exit).toBe(0)
    // Read once the output ended: until then the leaver's line could still be in its batch.
    expect(said(leaver, ['second signal while draining: exiting now'], from)).toBeUndefined()
  }, 120_000)
})

describe('a worker that exits during a reload; then a drain while a replacement is still starting', () => {
  w.ownInstance(release)
  it('fails the reload at once, naming the exit: it waits for no worker that is gone', async () => {
    const { gp, config, yaml } = w
    const primary = gp.child.pid as number
    const [quitter, other] = childPids(primary) as [number, number]
    const from = gp.output.length
    sendSignal(quitter, 'SIGSTOP', primary)
    replaceFile(config, yaml.replace('60s', '55s'))
    await eventually(() => said(other, ['config reloaded'], from), 30_000, 'the other worker to reload')
    sendSignal(quitter, 'SIGKILL', primary)
    // Before, the reload waited out its 30 s answer timeout, and the replacement its texts with it.
    const failure = await eventually(() => said(primary, [RELOAD_REFUSED], from), 60_000, 'the reload to fail')
    expect(failure.problems).toEqual([`worker ${quitter}: exited before it answered the reload`])
    await eventually(() => said(primary, ['replacement worker listening'], from), 60_000, 'the replacement to listen')
    // The other worker writes its own lines, in batches: its rollback's may follow the primary's.
    const reloaded = (): Record<string, unknown>[] => entries(from).filter((e) => e.pid === other && e.msg === 'config reloaded')
    await eventually(() => reloaded().length >= 2, 30_000, 'the other worker to go back')
    expect(reloaded().map((e) => e.trigger)).toEqual(['file change', 'rollback of file change'])
  }, 120_000)

  it('ends the replacement and exits 0: it served nothing, so nothing was cut', async () => {
    const { gp, config, yaml } = w
    const primary = gp.child.pid as number
    const [crasher, sleeper] = childPids(primary) as [number, number]
    const from = gp.output.length
    const exit = exitedOf(gp.child)
    sendSignal(sleeper, 'SIGSTOP', primary)
    try {
      // A reload the sleeper cannot answer yet: a replacement gets its texts only once it is over.
      replaceFile(config, yaml.replace('60s', '50s'))
      await eventually(() => said(crasher, ['config reloaded'], from), 30_000, 'the awake worker to reload')
      sendSignal(crasher, 'SIGKILL', primary)
      await eventually(() => childPids(primary).some((p) => p !== crasher && p !== sleeper), 30_000, 'the replacement to be forked')
      gp.child.kill('SIGTERM')
      await eventually(() => said(primary, ['draining every worker'], from), 30_000, 'the drain to begin')
    } finally {
      sendSignal(sleeper, 'SIGCONT', primary)
    }
    expect(await exit).toBe(0)
    expect(entries(from).filter((e) => e.msg === 'a worker exited before its requests finished: exiting with code 1')).toEqual([])
  }, 120_000)
})
