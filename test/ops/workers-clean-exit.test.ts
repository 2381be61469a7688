/**
 * How a `--workers` primary tells a worker's exits apart. A worker signalled on its own while it
 * serves (`kill <worker pid>`) drains and exits 0: no crash, nothing cut. The primary replaces it
 * and says so at warn with the code (`worker exited on its own (code 0): replacing it`), and
 * `worker_restarts_total` (crashes and kills, the MtlsGatewayWorkerRestarts alert) does not move.
 * Before, the line was an error, `worker exited unexpectedly: replacing it`, and counted as a
 * restart. The exits the primary ordered (its drain) are no error and no warning either.
 *
 * Real processes: `serve --workers 2` and a real mTLS upstream.
 */
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { childPids, eventually, get, scrape, valueOf } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { sendSignal } from '../support/signals.js'

const w = useTwoWorkers({ before: 'drain: { grace: 30s }\n' })

describe('serve --workers 2: a worker that exits cleanly', () => {
  it('on its own signal: replaced, said at warn with its code 0, not counted as a restart; the instance then drains with no error, exit 0', async () => {
    const { gp, admin } = w
    const primary = gp.child.pid as number
    const [victim, other] = childPids(primary) as [number, number]
    const from = gp.output.length
    sendSignal(victim, 'SIGTERM', primary)
    const exited = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.worker === victim), 30_000, 'the primary to see it exit')
    expect(exited).toMatchObject({ level: 'warn', msg: 'worker exited on its own (code 0): replacing it', code: 0, signal: null })
    expect(typeof exited.waitedMs).toBe('number')
    // It drained its own way first (its own signal, the primary not draining).
    expect(gp.logEntries(from).filter((e) => e.pid === victim).map((e) => e.msg)).toEqual(['draining: no new connections, waiting for in-flight requests', 'drained: exiting'])
    const replacement = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'replacement worker listening'), START_DEADLINE_MS, 'its replacement to serve')
    expect([replacement.worker === victim, replacement.worker === other]).toEqual([false, false])
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, START_DEADLINE_MS, 'readiness with the replacement')
    expect(valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total')).toBe(0)
    expect((await send(gp.url, '/proxy/partner/after')).status).toBe(200)

    // The instance's drain: every worker exits as ordered, with no error or warning about it.
    const drainFrom = gp.output.length
    gp.child.kill('SIGTERM')
    await gp.ended
    expect(gp.child.exitCode).toBe(0)
    const drained = gp.logEntries(drainFrom)
    expect(drained.find((e) => e.pid === primary && e.msg === 'all workers drained: exiting')).toBeDefined()
    expect(drained.filter((e) => e.level === 'error' || e.level === 'warn')).toEqual([])
  }, 180_000)
})
