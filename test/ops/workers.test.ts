import { readFileSync, writeFileSync } from 'node:fs'
import { Pool } from 'undici'
import { describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { connect } from 'node:net'
import { flushedBy } from '../support/log-entries.js'
import { childPids, eventually, get, parseMetrics, scrape, valueOf, type Sample } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { sendSignal } from '../support/signals.js'

// The load test below writes 20,000 lines of 404s no caller authenticated: the cap on such lines
// (logging.callerFaults, test/ops/caller-fault-lines.test.ts) is off here.
const w = useTwoWorkers({ admin: '{ port: 0, timeouts: { headers: 1s } }', before: 'logging: { callerFaults: { interval: 0 } }\n' })

const entries = (): Record<string, unknown>[] =>
  w.gp.logEntries()
const accessPids = (): number[] => entries().filter((e) => e.msg === 'request').map((e) => e.pid as number)
/** Waits until the primary has logged `n` replacement workers listening (readiness asks only the connected ones). */
const replacementsListening = (n: number): Promise<unknown> =>
  eventually(() => entries().filter((e) => e.msg === 'replacement worker listening').length >= n, 60_000, `${n} replacement worker(s) listening`)

/** The samples of every counter and histogram family of a scrape: what must never go down. */
async function monotonicSamples(adminUrl: string): Promise<Sample[]> {
  const { text } = await get(`${adminUrl}/metrics`)
  const families = new Set([...text.matchAll(/^# TYPE (\S+) (counter|histogram)$/gm)].map((m) => m[1] as string))
  return parseMetrics(text).filter((s) => families.has(s.name) || families.has(s.name.replace(/_(bucket|sum|count)$/, '')))
}

/** Each sample of `before` that is absent from `after` or lower there. */
function decreases(before: Sample[], after: Sample[]): string[] {
  return before.flatMap((b) => {
    const a = valueOf(after, b.name, b.labels)
    return a !== undefined && a >= b.value ? [] : [`${b.name}${JSON.stringify(b.labels)}: ${b.value} → ${a}`]
  })
}

describe('serve --workers 2', () => {
  it('spreads traffic over both workers and aggregates the counters', async () => {
    const { gp, admin } = w
    // Concurrent calls repeating two caller ids: each worker's lines still carry their own upstream connection.
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => send(gp.url, `/proxy/partner/w${i}`, { headers: { 'x-request-id': i % 2 ? 'turn-odd' : 'turn-even' } })))
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200))
    const pids = await eventually(() => accessPids().length === 20 && accessPids(), 20_000, '20 access-log lines')
    for (const e of entries().filter((x) => x.msg === 'request')) expect(e).toMatchObject({ upstreamAddress: '127.0.0.1', tlsVersion: 'TLSv1.3', connectionReused: expect.any(Boolean) })
    const workers = new Set(pids)
    expect(workers.size).toBe(2)
    expect(workers.has(gp.child.pid as number)).toBe(false)
    const m = await scrape(admin)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })).toBe(20)
    expect(valueOf(m, 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner', mode: 'route' })).toBe(20)
    expect(valueOf(m, 'mtls_gateway_worker_restarts_total')).toBe(0)
    expect((await get(`${admin}/readyz`)).status).toBe(200)
  })

  // The primary and both workers write to one stdout pipe: no process's write may cut another's
  // line (each write stays within PIPE_BUF). With unbounded 64 KiB batches, 68 of 80,008 lines
  // of such a run arrived cut.
  it('keeps every log line whole on the shared stdout pipe under load', async () => {
    const { gp } = w
    const before = gp.output.length
    // A reader that falls behind now and then, as a busy log collector does: the pipe fills,
    // and writes that do not fit whole are where lines get cut.
    const stdout = gp.child.stdout
    const stall = setInterval(() => (stdout?.isPaused() ? stdout.resume() : stdout?.pause()), 50)
    const pool = new Pool(gp.url, { connections: 32 })
    let sent = 0
    const user = async (): Promise<void> => {
      while (sent < 20_000) {
        sent++
        const r = await pool.request({ path: `/proxy/none/${sent}`, method: 'GET' })
        await r.body.dump()
      }
    }
    await Promise.all(Array.from({ length: 32 }, user))
    await pool.close()
    clearInterval(stall)
    stdout?.resume()
    const lines = await eventually(() => {
      const added = gp.output.slice(before)
      return added.filter((l) => l.includes('"msg":"request"')).length >= 20_000 && added
    }, 60_000, '20,000 more access lines')
    const cut = lines.filter((l) => {
      if (l === '' || /^\(node:\d+\)/.test(l)) return false
      try {
        JSON.parse(l)
        return false
      } catch {
        return true
      }
    })
    expect(cut).toEqual([])
  }, 120_000)

  it('relays SIGHUP to every worker', async () => {
    const { gp, admin } = w
    gp.child.kill('SIGHUP')
    const reloaded = await eventually(() => {
      const pids = new Set(entries().filter((e) => e.msg === 'config reloaded').map((e) => e.pid))
      return pids.size === 2 && pids
    }, 20_000, 'both workers to reload')
    expect(reloaded.size).toBe(2)
    expect(valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'success' })).toBe(1)
  })

  // A crashed worker's counts stay in the instance's counters: a drop would read as a counter
  // reset to Prometheus (rate spikes, alerts firing). Both workers served the traffic so far.
  it('replaces a crashed worker and counts it, and no counter or histogram of the instance goes down', async () => {
    const { gp, admin } = w
    const scraped = await monotonicSamples(admin)
    const requests = (m: Sample[]): number | undefined => valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })
    // Every request sent so far: 20 to partner, 20,000 refused (endpoint "_none").
    const total = (m: Sample[]): number => m.filter((x) => x.name === 'mtls_gateway_requests_total').reduce((n, x) => n + x.value, 0)
    expect([requests(scraped), total(scraped)]).toEqual([20, 20_020])
    const victim = accessPids()[0] as number
    sendSignal(victim, 'SIGKILL', w.gp.child.pid)
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 1, 30_000, 'the restart to be counted')
    await replacementsListening(1)
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, START_DEADLINE_MS, 'readiness after the restart')
    const afterCrash = await monotonicSamples(admin)
    expect(decreases(scraped, afterCrash)).toEqual([])
    expect([requests(afterCrash), total(afterCrash)]).toEqual([20, 20_020])
    expect(valueOf(afterCrash, 'mtls_gateway_request_duration_seconds_count', { endpoint: 'partner', mode: 'route' })).toBe(20)
    const before = accessPids().length
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => send(gp.url, `/proxy/partner/after-crash-${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200))
    const pids = await eventually(() => accessPids().length === before + 10 && accessPids().slice(before), 20_000, 'the new access-log lines')
    expect(pids).not.toContain(victim)
    expect(new Set(pids).size).toBe(2)
    const served = await monotonicSamples(admin)
    expect(decreases(afterCrash, served)).toEqual([])
    expect([requests(served), total(served)]).toEqual([30, 20_030])
  })

  it('counts a worker that does not answer a scrape in time at its last counts', async () => {
    const { admin } = w
    const scraped = await monotonicSamples(admin)
    const stopped = accessPids().at(-1) as number
    // A stopped process answers nothing: the scrape waits out its deadline without it.
    sendSignal(stopped, 'SIGSTOP', w.gp.child.pid)
    try {
      expect(decreases(scraped, await monotonicSamples(admin))).toEqual([])
    } finally {
      sendSignal(stopped, 'SIGCONT')
    }
  })

  it('closes a slow client of the admin listener and counts it in the primary, as a single process does', async () => {
    const { admin } = w
    const { hostname, port } = new URL(admin)
    const started = Date.now()
    // A request line and then silence: admin.timeouts.headers (1 s) closes it.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write('GET /metrics HTTP/1.1\r\n'))
      socket.on('error', reject)
      socket.on('close', () => resolve())
      socket.resume()
    })
    // The default admin.timeouts.headers (60 s) is what would close it without the configured 1 s: half of it tells them apart.
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(valueOf(await scrape(admin), 'mtls_gateway_client_timeouts_total', { listener: 'admin', reason: 'headers' })).toBe(1)
  })

  it('a replacement worker runs the instance\'s last good config, not a file on disk the workers refused', async () => {
    const { gp, admin, config, upstream, tls } = w
    const good = readFileSync(config, 'utf8')
    const refusedFrom = entries().length
    // A restart-only change (the listener's limits) beside a new endpoint: the whole file is refused.
    writeFileSync(config, good.replace('listen: { host: 127.0.0.1, port: 0 }', 'listen: { host: 127.0.0.1, port: 0, timeouts: { headers: 9s } }') + endpointYaml('extra', upstream.port, tls))
    // The primary judges the file as the workers would and refuses it once (the write and the
    // SIGHUP may each trigger a reload): nothing is relayed, no worker builds it.
    const refusers = (): Set<number> => new Set(entries().slice(refusedFrom).filter((e) => e.msg === 'config reload failed; keeping the last good config').map((e) => e.pid as number))
    gp.child.kill('SIGHUP')
    await eventually(() => refusers().has(gp.child.pid as number), 60_000, 'the instance to refuse the file')
    // No worker refused or built it: read after a later line of each (a call's), as each writes its lines in batches.
    await flushedBy(gp, childPids(gp.child.pid as number), (tag) => send(gp.url, '/proxy/partner/flush', { headers: { 'x-request-id': tag } }))
    expect(refusers()).toEqual(new Set([gp.child.pid]))
    expect(entries().slice(refusedFrom).filter((e) => e.msg === 'config reloaded')).toEqual([])
    const victim = accessPids().at(-1) as number
    sendSignal(victim, 'SIGKILL', w.gp.child.pid)
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 2, 30_000, 'the restart to be counted')
    await replacementsListening(2)
    await eventually(async () => (await get(`${admin}/readyz`)).status === 200, START_DEADLINE_MS, 'readiness after the restart')
    // Every request, on the survivor or the replacement, sees the same config: no endpoint "extra".
    const before = accessPids().length
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => send(gp.url, `/proxy/extra/r${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(403))
    const pids = await eventually(() => accessPids().length === before + 12 && accessPids().slice(before), 20_000, 'the access-log lines')
    expect(new Set(pids).size).toBe(2)
    // The file put back reloads on both, the replacement included (its baseline is the instance's start).
    const logged = entries().length
    writeFileSync(config, good)
    gp.child.kill('SIGHUP')
    const reloaded = await eventually(() => {
      const p = new Set(entries().slice(logged).filter((e) => e.msg === 'config reloaded').map((e) => e.pid as number))
      return [...new Set(pids)].every((pid) => p.has(pid)) && p
    }, 20_000, 'both workers, the replacement included, to reload the good file')
    expect(reloaded.size).toBe(2)
  })

  it('drains every worker on SIGTERM and exits 0', async () => {
    const { gp } = w
    expect(await gp.stop('SIGTERM')).toBe(0)
    // stop() waits for the output's end only so long: the workers' last lines are read once all of it was.
    await gp.ended
    expect(entries().filter((e) => e.msg === 'drained: exiting')).toHaveLength(2)
  })
})
