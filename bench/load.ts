/**
 * The load generator, the same for every path: N virtual users, one connection each
 * (undici Pool or ProxyAgent with `connections: N`, no pipelining). Closed loop (each user
 * sends its next request when the last one is done: throughput, CPU per request) or paced
 * (each user on a fixed schedule, N × per-user rate = the offered rate: latency below
 * saturation, where a closed loop would only measure queueing).
 */
import type { Dispatcher } from 'undici'

/** One path's request, and what every answer must carry. */
export interface Target {
  readonly dispatcher: Dispatcher
  readonly origin: string
  readonly path: string
  readonly method: 'GET' | 'POST'
  readonly headers: Record<string, string>
  readonly body?: Buffer
  /** Response headers every answer must have (e.g. the client DN the upstream verified). */
  readonly expect: Readonly<Record<string, string>>
  /** The body the upstream sends (checked on each user's first answer). */
  readonly expectBody: string
}

export interface LoadResult {
  /** Answers received (any status). */
  requests: number
  statuses: Record<string, number>
  /** Answers with status 200 lacking an expected header value, or the first body wrong. */
  mismatches: number
  firstMismatch?: string
  errors: number
  firstError?: string
  elapsedMs: number
  /** Sorted, in milliseconds, from send to the end of the response body. */
  latencies: Float64Array
}

interface Recorder {
  lat: number[]
  statuses: Record<string, number>
  mismatches: number
  firstMismatch?: string
  errors: number
  firstError?: string
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function once(t: Target, rec: Recorder, checkBody: boolean): Promise<void> {
  const start = performance.now()
  try {
    const res = await t.dispatcher.request({ origin: t.origin, path: t.path, method: t.method, headers: t.headers, body: t.body ?? null })
    const text = checkBody ? await res.body.text() : (await res.body.dump(), undefined)
    rec.lat.push(performance.now() - start)
    rec.statuses[res.statusCode] = (rec.statuses[res.statusCode] ?? 0) + 1
    if (res.statusCode !== 200) return
    for (const name in t.expect) {
      const v = res.headers[name]
      if (v !== t.expect[name]) {
        rec.mismatches++
        rec.firstMismatch ??= `${name}: ${String(v)} (expected ${t.expect[name]})`
      }
    }
    if (text !== undefined && text !== t.expectBody) {
      rec.mismatches++
      rec.firstMismatch ??= `body: ${text.slice(0, 200)}`
    }
  } catch (e) {
    rec.errors++
    rec.firstError ??= `${(e as Error).message} ${(e as { code?: string }).code ?? ''}`.trim()
    await sleep(10) // a refusing peer must not turn the loop into a spin
  }
}

function result(rec: Recorder, elapsedMs: number): LoadResult {
  const latencies = Float64Array.from(rec.lat).sort()
  return {
    requests: rec.lat.length,
    statuses: rec.statuses,
    mismatches: rec.mismatches,
    ...(rec.firstMismatch !== undefined ? { firstMismatch: rec.firstMismatch } : {}),
    errors: rec.errors,
    ...(rec.firstError !== undefined ? { firstError: rec.firstError } : {}),
    elapsedMs,
    latencies,
  }
}

const recorder = (): Recorder => ({ lat: [], statuses: {}, mismatches: 0, errors: 0 })

/** Closed loop: `users` concurrent request loops for `durationMs`. */
export async function closedLoop(t: Target, users: number, durationMs: number): Promise<LoadResult> {
  const rec = recorder()
  const started = performance.now()
  const end = started + durationMs
  const user = async (): Promise<void> => {
    let first = true
    while (performance.now() < end) {
      await once(t, rec, first)
      first = false
    }
  }
  await Promise.all(Array.from({ length: users }, user))
  return result(rec, performance.now() - started)
}

/** `requests` requests in all, over `users` concurrent loops (bench/instructions.ts counts per request). */
export async function fixedCount(t: Target, users: number, requests: number): Promise<LoadResult> {
  const rec = recorder()
  const started = performance.now()
  let left = requests
  const user = async (): Promise<void> => {
    for (let first = true; left > 0; first = false) {
      left--
      await once(t, rec, first)
    }
  }
  await Promise.all(Array.from({ length: users }, user))
  return result(rec, performance.now() - started)
}

/** Paced: `users` loops, together offering `rate` requests/s, each on its own fixed schedule. */
export async function paced(t: Target, users: number, rate: number, durationMs: number): Promise<LoadResult> {
  const rec = recorder()
  const started = performance.now()
  const end = started + durationMs
  const period = (users * 1000) / rate
  const user = async (i: number): Promise<void> => {
    let next = started + (i * period) / users
    let first = true
    while (next < end) {
      const wait = next - performance.now()
      if (wait > 0) await sleep(wait)
      // Latency from the actual send: below saturation the schedule holds and this is the
      // service time; a path that cannot keep up shows it in the achieved rate instead.
      await once(t, rec, first)
      first = false
      next += period
    }
  }
  await Promise.all(Array.from({ length: users }, (_, i) => user(i)))
  return result(rec, performance.now() - started)
}

/** The q-quantile (0..1) of sorted values, in the same unit. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i] as number
}

/**
 * Side by side: `users` loops, each sending one request to every target in turn (starting one
 * further along per user). Every target gets the same number of requests in the same window,
 * so whatever else the machine does falls on all of them alike.
 */
export async function closedLoopAll(ts: readonly Target[], users: number, durationMs: number): Promise<LoadResult[]> {
  const recs = ts.map(() => recorder())
  const started = performance.now()
  const end = started + durationMs
  const user = async (u: number): Promise<void> => {
    const first = ts.map(() => true)
    for (let turn = 0; performance.now() < end; turn++) {
      const i = (u + turn) % ts.length
      await once(ts[i] as Target, recs[i] as Recorder, first[i] as boolean)
      first[i] = false
    }
  }
  await Promise.all(Array.from({ length: users }, (_, u) => user(u)))
  const elapsed = performance.now() - started
  return recs.map((r) => result(r, elapsed))
}
