/**
 * A `--workers` instance stays ready while a worker a failed reload left behind drains. That worker
 * takes no new connections (its listener closed) and its siblings serve the accepted config, so the
 * instance can serve; `/readyz` names it under `notes`. Before, `/readyz` answered 503 until it had
 * exited (up to drain.grace): a failed reload usually reaches every replica together (the same
 * ConfigMap or Secret change), so every pod went unready at once and the Service had no endpoint.
 * (Deliberate contract change: 503 only when the instance cannot serve.)
 *
 * Here the reload fails because one worker, at its descriptor limit, cannot open the store the
 * reload needs; the other built it, opened the store, and cannot go back (README): it is drained
 * while it holds two requests.
 *
 * Real processes: `serve --workers 2`, a real TLS upstream that holds /slow requests, SQLite.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { echo } from '../support/tls-server.js'
import { childPids, eventually, get } from './helpers.js'
import { leaverHoldingRequests, useTwoWorkers } from './two-workers.js'

let held: (() => void)[] = []
const release = (): void => void held.splice(0).forEach((go) => go())
const handler = (req: IncomingMessage, res: ServerResponse): void => void (req.url?.includes('slow') ? held.push(() => echo(req, res)) : echo(req, res))
const w = useTwoWorkers({ before: 'drain: { grace: 60s }\n', handler, beforeStop: release })

type Ready = { status: string; reasons?: string[]; notes?: string[] }

async function readyz(): Promise<{ status: number; body: Ready }> {
  const r = await get(`${w.admin}/readyz`)
  return { status: r.status, body: JSON.parse(r.text) as Ready }
}

describe('readiness while a worker a failed reload left behind drains', () => {
  it('stays 200 and notes that worker; the note goes once it is replaced', async () => {
    const { gp } = w
    const { primary, leaver, slow, from } = await leaverHoldingRequests(w, () => held.length)
    const note = `worker ${leaver}: left on a config the instance did not accept; draining, being replaced`
    // Polled: the refuser's descriptor limit is given back only now.
    const ready = await eventually(async () => {
      const r = await readyz()
      return r.status === 200 ? r : undefined
    }, 20_000, '/readyz to answer 200 while the leaver drains')
    expect(ready.body).toEqual({ status: 'ready', notes: [note] })
    expect(childPids(primary)).toContain(leaver)
    // The survivor serves meanwhile.
    expect((await send(gp.url, '/proxy/partner/fast')).status).toBe(200)
    release()
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200])
    await eventually(() => gp.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'the replacement to serve')
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } })
  }, 120_000)
})
