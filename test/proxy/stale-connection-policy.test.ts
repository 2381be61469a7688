/**
 * The promise that protects a backend: a request a second copy could act on twice is
 * dispatched once, whatever happens to its connection. Checked as a property over generated
 * requests and attempt histories, through the real forward step and UpstreamCall, with a pool
 * stand-in that plays undici's handler calls and publishes undici's own `sendHeaders` message
 * (the reuse count is the production one). stale-connections.test.ts shows the same against a
 * real mTLS server.
 */
import { channel } from 'node:diagnostics_channel'
import { PassThrough } from 'node:stream'
import type { Dispatcher } from 'undici'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { isGatewayError } from '../../src/errors.js'
import type { Admitted, OutboundHeaders, UpstreamResponse } from '../../src/proxy/pipeline.js'
import { isClosedUnderRequest, isReplayable, MAX_STALE_RETRIES } from '../../src/proxy/stale-connection.js'
import { forwardUpstream } from '../../src/proxy/steps/forward.js'

const sendHeaders = channel('undici:client:sendHeaders')
/** A connection that has carried a request before any test call (counted by the production subscriber). */
const usedSocket = {}

type Outcome =
  | { kind: 'answer' }
  | { kind: 'fail'; code: string }
  /** A 1xx arrived, then the connection failed: the server is working on it. */
  | { kind: 'informational-then-fail'; code: string }
  /** The caller left while the attempt was on its connection. */
  | { kind: 'caller-gone' }

interface Attempt {
  reused: boolean
  outcome: Outcome
}

const CODES = ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ECONNREFUSED', 'UND_ERR_ABORTED', 'ETIMEDOUT']
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'POST', 'PATCH', 'PROPFIND', 'LOCK', 'get']

const anyAttemptArb: fc.Arbitrary<Attempt> = fc.record({
  reused: fc.boolean(),
  outcome: fc.oneof(
    fc.constant<Outcome>({ kind: 'answer' }),
    fc.constantFrom(...CODES).map((code): Outcome => ({ kind: 'fail', code })),
    fc.constantFrom(...CODES).map((code): Outcome => ({ kind: 'informational-then-fail', code })),
    fc.constant<Outcome>({ kind: 'caller-gone' }),
  ),
})
/** Runs of stale connections are what reach the bound: weighted so they come up often. */
const attemptArb: fc.Arbitrary<Attempt> = fc.oneof(
  { arbitrary: anyAttemptArb, weight: 2 },
  { arbitrary: fc.constantFrom('UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE').map((code): Attempt => ({ reused: true, outcome: { kind: 'fail', code } })), weight: 3 },
)

const scenarioArb = fc.record({
  method: fc.constantFrom(...METHODS),
  idempotencyKey: fc.constantFrom(undefined, 'idempotency-key', 'x-idempotency-key'),
  body: fc.constantFrom('none' as const, 'held' as const, 'streamed' as const),
  attempts: fc.array(attemptArb, { minLength: 1, maxLength: 6 }),
})
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

/** How many dispatches the policy allows for this history (stale-connection.ts, read as a spec). */
function expectedDispatches(s: Scenario): number {
  const replayable = s.body !== 'streamed' && (['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'].includes(s.method) || s.idempotencyKey !== undefined)
  for (let n = 1; ; n++) {
    // The stand-in answers once the history runs out.
    const a = s.attempts[n - 1]
    const stale = a !== undefined && a.outcome.kind === 'fail' && ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(a.outcome.code) && a.reused
    if (!(replayable && stale) || n > MAX_STALE_RETRIES) return n
  }
}

interface Run {
  dispatches: number
  bodies: unknown[]
  result: Promise<UpstreamResponse>
}

/** forwardUpstream over a pool stand-in that plays `attempts` in order (an answer once they run out). */
function run(s: Scenario): Run {
  const attempts = [...s.attempts]
  let gone: ((reason: Error) => void) | undefined
  const out: Run = { dispatches: 0, bodies: [], result: Promise.resolve(undefined as never) }
  const headers: OutboundHeaders = { host: 'api.partner.test' }
  if (s.idempotencyKey) headers[s.idempotencyKey] = 'k'
  const held = Buffer.from('a=1')
  const stream = new PassThrough()
  const ctx = {
    endpoint: { name: 'partner', config: { timeouts: { responseMs: 0 } } },
    target: { origin: 'https://api.partner.test', under: /^\//, basePath: '/' },
    outbound: {
      method: s.method,
      url: new URL('https://api.partner.test/x'),
      headers,
      body: { buffered: s.body === 'held' ? held : undefined, stream: s.body === 'streamed' ? stream : undefined },
    },
    facts: {},
    // What the caller sent: the forward step judges the outbound URL against its credentials (none here).
    inbound: { headers: {}, rawHeaders: [] },
    presence: { onGone: (f: (reason: Error) => void) => void (gone = f) },
    upstream: {
      dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
        out.dispatches++
        out.bodies.push(opts.body)
        const a = attempts.shift() ?? { reused: false, outcome: { kind: 'answer' } as Outcome }
        const controller = { abort: (reason: Error) => void handler.onResponseError?.(controller as never, reason), pause() {}, resume() {}, paused: false, aborted: false, reason: null }
        const c = controller as unknown as Dispatcher.DispatchController
        // undici: onRequestStart, then `sendHeaders` naming the socket, in one synchronous run.
        handler.onRequestStart?.(c, {})
        sendHeaders.publish({ request: {}, headers: '', socket: a.reused ? usedSocket : {} })
        const fail = (code: string): void => handler.onResponseError?.(c, Object.assign(new Error(code), { code }))
        switch (a.outcome.kind) {
          case 'answer':
            handler.onResponseStart?.(c, 200, {}, '')
            return handler.onResponseEnd?.(c, {})
          case 'fail':
            return fail(a.outcome.code)
          case 'informational-then-fail':
            handler.onResponseStart?.(c, 100, {}, '')
            return fail(a.outcome.code)
          case 'caller-gone':
            gone?.(Object.assign(new Error('the caller went away'), { code: 'ECONNRESET' }))
        }
      },
    },
  } as unknown as Admitted
  out.result = forwardUpstream(ctx)
  return out
}

beforeAll(() => {
  // No call is being written: the production subscriber only counts the socket.
  sendHeaders.publish({ request: {}, headers: '', socket: usedSocket })
})

describe('stale-connection policy (property)', () => {
  it('a request is dispatched again only after a reused connection closed under it, only when a copy cannot act twice, at most twice more', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const r = run(s)
        const settled = await r.result.then((v) => ({ ok: v }), (e: unknown) => ({ err: e }))
        // Retries are dispatched from a microtask: let them all land.
        await new Promise((resolve) => setImmediate(resolve))
        const expected = expectedDispatches(s)
        expect(r.dispatches).toBe(expected)
        if (!isReplayable(s.method, { [s.idempotencyKey ?? 'none']: 'k' }, s.body)) expect(r.dispatches).toBe(1)
        expect(r.dispatches).toBeLessThanOrEqual(1 + MAX_STALE_RETRIES)
        // Every copy carries the same body object (a held buffer, or nothing).
        for (const b of r.bodies) expect(b).toBe(r.bodies[0])
        const last = s.attempts[expected - 1]
        if (last === undefined || last.outcome.kind === 'answer') expect(settled).toMatchObject({ ok: { status: 200 } })
        else {
          expect('err' in settled && isGatewayError(settled.err)).toBe(true)
        }
      }),
      { seed: 0x57a1e, numRuns: 3000 },
    )
  })

  it('the codes of a connection closed under a request, and nothing else', () => {
    for (const code of CODES) expect(isClosedUnderRequest(Object.assign(new Error(code), { code })), code).toBe(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(code))
    expect(isClosedUnderRequest(new Error('no code'))).toBe(false)
    expect(isClosedUnderRequest(null)).toBe(false)
  })
})
