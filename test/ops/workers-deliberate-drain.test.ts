/**
 * A worker the primary drains on purpose is no crash. After a reload one worker refused (at its
 * descriptor limit, it cannot open the store the reload needs) and the other built, opening that
 * store, the other cannot go back (README) and the primary drains and replaces it. Before, its exit
 * was logged `worker exited unexpectedly: replacing it`, counted in `worker_restarts_total` (and
 * the restarts alert) and fed the crash backoff; now it is `drained worker exited: replacing it`,
 * counted in `worker_drains_total{reason="rollback_failed"}`, and replaced at once.
 *
 * Real processes: `serve --workers 2`, a real TLS upstream, SQLite.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminUrlOf } from '../support/process.js'
import { atDescriptorLimit, callersAtStore, childPids, eventually, replaceFile, scrape, startPartnerWorkers, valueOf, type PartnerWorkers } from './helpers.js'

let at: PartnerWorkers

beforeAll(async () => {
  at = await startPartnerWorkers()
}, 120_000)

afterAll(async () => {
  await at?.stop()
})

describe('a worker the primary drains after it could not go back', () => {
  it('is logged and counted as a drain, not as a crash, and replaced', async () => {
    const { gp, pki, config, yaml } = at
    const primary = gp.child.pid as number
    const [refuser, leaver] = childPids(primary) as [number, number]
    const from = gp.output.length
    let left: Record<string, unknown> = {}
    await atDescriptorLimit(refuser, async () => {
      replaceFile(config, callersAtStore(join(pki.dir, 'store.db')) + yaml)
      left = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'worker left on a config the instance did not accept: draining and replacing it'), 30_000, 'the leaver to be drained')
      expect(left.worker).toBe(leaver)
    })
    const exits = ['drained worker exited: replacing it', 'worker exited unexpectedly: replacing it']
    const exit = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && exits.includes(e.msg as string)), 60_000, 'the leaver to exit')
    expect(exit).toMatchObject({ msg: 'drained worker exited: replacing it', worker: leaver, reason: 'rollback_failed', code: 0 })
    expect(left.reason).toBe('rollback_failed')
    await eventually(() => gp.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'the replacement to serve')
    const metrics = await scrape(await adminUrlOf(gp))
    expect(valueOf(metrics, 'mtls_gateway_worker_restarts_total')).toBe(0)
    expect(valueOf(metrics, 'mtls_gateway_worker_drains_total', { reason: 'rollback_failed' })).toBe(1)
  }, 120_000)
})
