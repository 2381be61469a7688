/**
 * A `--workers` reload one worker could not build, which made the other open the store: the
 * instance keeps that store (README: a store a rolled-back worker opened stays open, and its
 * location is restart-only from then on), so the primary judges the next reload against it
 * (review rev-U).
 *
 * Before, the primary's baseline had no store after the failed reload: it relayed the next
 * config, which moved the store to another file; the worker that had opened none opened that
 * one, the other refused it (restart-only), the first could not go back and was drained and
 * replaced, and a replacement started with no store while its sibling held one: every later
 * reload to that file failed the same way, one worker replaced each time.
 *
 * Real processes: `serve --workers 2` (one worker at its descriptor limit, so it cannot open
 * the store), a real TLS upstream, SQLite.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { flushedBy } from '../support/log-entries.js'
import { atDescriptorLimit, childPids, eventually, RELOAD_REFUSED, replaceFile, STORE_CALLERS as CALLERS } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'

const w = useTwoWorkers()
const entries = (from: number): Record<string, unknown>[] => w.gp.logEntries(from)

describe('after a reload that only one worker built, opening the store', () => {
  it('the primary refuses moving the store (restart-only), and drains no worker', async () => {
    const { gp, config, yaml, pki } = w
    const primary = gp.child.pid as number
    const [refuser, opener] = childPids(primary) as [number, number]
    let from = gp.output.length
    await atDescriptorLimit(refuser, async () => {
      // Caller apps need the store (at its default file): the refuser cannot open it, the opener does and goes back.
      replaceFile(config, CALLERS + yaml)
      await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === RELOAD_REFUSED), 30_000, 'the instance to refuse the reload')
      await eventually(() => entries(from).filter((e) => e.pid === opener && e.msg === 'config reloaded').length === 2, 30_000, 'the opener to go back')
      // Every worker's line about it is out (each process writes its own, in batches) before the next reload.
      await eventually(() => entries(from).some((e) => e.pid === refuser && e.msg === RELOAD_REFUSED), 30_000, 'the refuser to log its refusal')
    })
    from = gp.output.length
    replaceFile(config, `store: { file: ${join(pki.dir, 'moved.db')} }\n${CALLERS}${yaml}`)
    const refusal = await eventually(() => entries(from).find((e) => e.pid === primary && (e.msg === RELOAD_REFUSED || e.msg === 'reload accepted by every worker')), 30_000, 'the second reload to end')
    // Judged by the primary, as a single process would judge it: not relayed, no worker refusing, none drained.
    expect(refusal).toMatchObject({ msg: RELOAD_REFUSED, problems: [expect.stringContaining('store.file: changed, and takes effect only after a restart')] })
    expect((refusal.problems as string[]).filter((p) => p.startsWith('worker '))).toEqual([])
    // Read after a later line of each worker (a call's; those lines aside), as each writes its lines in batches.
    const own = await flushedBy(gp, [refuser, opener], (tag) => send(gp.url, '/proxy/partner/after', { headers: { 'x-request-id': tag } }))
    expect(entries(from).filter((e) => e.pid !== primary && !own.has(e.reqId as string))).toEqual([])
  }, 120_000)
})
