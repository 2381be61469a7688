/**
 * Console sessions without server state: a cookie is good only as issued, under the token
 * it was issued with, until it expires or is ended; a CSRF token belongs to one session.
 * Tampering is checked as a property over thousands of generated edits.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createSessions, SESSION_TTL_MS } from '../../src/console/session.js'
import { createSampler } from '../../src/console/samples.js'
import type { WorkerMetrics } from '../../src/ops/index.js'

const TOKEN = 'operator-token-0123456789'

describe('console sessions', () => {
  it('a cookie is good until it expires, is ended, or the token changes', () => {
    let now = 1_000_000
    const sessions = createSessions(() => now)
    const { session, cookie } = sessions.issue('token', TOKEN)
    expect(sessions.verify(cookie, TOKEN)).toEqual(session)
    expect(sessions.verify(cookie, `${TOKEN}-rotated`)).toBeUndefined()
    now += SESSION_TTL_MS - 1
    expect(sessions.verify(cookie, TOKEN)?.who).toBe('token')
    now += 1
    expect(sessions.verify(cookie, TOKEN)).toBeUndefined()
    now = 1_000_000
    sessions.end(session)
    expect(sessions.verify(cookie, TOKEN)).toBeUndefined()
  })

  it('another process (another key) does not accept the cookie; a CSRF token fits one session only', () => {
    const a = createSessions()
    const b = createSessions()
    const one = a.issue('token', TOKEN)
    const two = a.issue('token', TOKEN)
    expect(b.verify(one.cookie, TOKEN)).toBeUndefined()
    expect(a.checkCsrf(one.session, TOKEN, a.csrf(one.session, TOKEN))).toBe(true)
    expect(a.checkCsrf(two.session, TOKEN, a.csrf(one.session, TOKEN))).toBe(false)
    expect(a.checkCsrf(one.session, TOKEN, undefined)).toBe(false)
  })

  it('any edit of a valid cookie is refused (property)', () => {
    const sessions = createSessions()
    const { cookie } = sessions.issue('token', TOKEN)
    fc.assert(
      fc.property(fc.nat({ max: cookie.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), fc.nat({ max: 3 }), (at, text, cut) => {
        const edited = cookie.slice(0, at) + text + cookie.slice(at + cut)
        fc.pre(edited !== cookie)
        expect(sessions.verify(edited, TOKEN)).toBeUndefined()
      }),
      { seed: 20_12, numRuns: 4000 },
    )
  })
})

describe('console samples', () => {
  const metrics = (requests: number, errors: number): WorkerMetrics =>
    [{ name: 'mtls_gateway_requests_total', help: '', type: 'counter', aggregator: 'sum', values: [
      { labels: { endpoint: 'a', status_class: '2xx' }, value: requests - errors },
      { labels: { endpoint: 'a', status_class: '5xx' }, value: errors },
    ] }] as unknown as WorkerMetrics

  it('rates are differences between samples; a counter reset (worker restart) shows 0, never a negative rate', async () => {
    let now = 0
    let current = metrics(0, 0)
    const sampler = createSampler(async () => current, () => now)
    await sampler.touch()
    now = 10_000
    current = metrics(100, 10)
    await sampler.touch()
    now = 20_000
    current = metrics(5, 0)
    await sampler.touch()
    expect(sampler.series()).toEqual([
      { at: 10_000, requests: 10, errors: 1 },
      { at: 20_000, requests: 0, errors: 0 },
    ])
  })
})
