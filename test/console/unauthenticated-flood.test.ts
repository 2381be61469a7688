/**
 * No log line an unauthenticated peer can cause is uncapped: a bounded flood of every kind of
 * refusal such a peer can provoke, on the gateway listener (gateway API, the dance's pages,
 * route and forward mode, CONNECT, bytes that are no HTTP) and on the admin listener (a Host it
 * does not answer for, unknown routes, the console without a session, cross-origin POSTs, wrong
 * and throttled sign-ins), and as the open caller of `callers.required: false` (anyone: a 401
 * for a per-user profile without a user, or without the user's token), with logging.callerFaults' burst at 1: no kind of line appears more
 * than once per kind, whatever the count sent, and every held-back line is in a summary.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { adminRequest, CONSOLE_TOKEN, startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

const ROUNDS = 6

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('console-unauth-flood-', 'logging:\n  callerFaults: { burst: 1, interval: 10m }\n')
})

afterAll(async () => {
  await c?.close()
})

/** Bytes on a raw connection, read to its end. */
function raw(url: string, bytes: string): Promise<string> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname, () => s.end(bytes))
    const out: Buffer[] = []
    s.on('data', (d: Buffer) => out.push(d))
    s.on('close', () => resolve(Buffer.concat(out).toString('latin1')))
    s.on('error', () => resolve(Buffer.concat(out).toString('latin1')))
  })
}

describe('a flood of unauthenticated refusals', () => {
  it('writes at most the burst of lines per kind on either listener, and summarises the rest', async () => {
    const gw = c.ops.gw.url
    const admin = c.ops.adminUrl
    // A link's holder (anyone it was sent to) forging its form.
    const link = await c.post('users/link', { profile: 'partner', user: 'erin', app: '' })
    expect(link.status).toBe(200)
    const formAt = new URL((JSON.parse(link.text) as { url: string }).url).pathname + new URL((JSON.parse(link.text) as { url: string }).url).search
    const before = c.ops.lines.length
    for (let i = 0; i < ROUNDS; i++) {
      await Promise.all([
        send(gw, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"assertion":"x.y.z${i}"}` }),
        send(gw, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
        send(gw, `/gateway/oauth1/partner/authorize?link=madeup${i}`),
        send(gw, `/gateway/oauth1/callback?oauth_token=madeup${i}&oauth_verifier=v`),
        send(gw, '/gateway/oauth1/partner/users', { headers: { authorization: `Bearer wrong-admin-token-${i}` } }),
        send(gw, `/proxy/no-such-endpoint-${i}/x`),
        // callers.required: false: anyone is the open caller, not an authenticated one.
        send(gw, `/proxy/partner/open-${i}`),
        send(gw, `/proxy/partner/open-${i}`, { headers: { 'x-gateway-user': `someone-${i}` } }),
        send(gw, `http://not-configured-${i}.example/`, { headers: { host: `not-configured-${i}.example` } }),
        raw(gw, `CONNECT not-configured-${i}.example:443 HTTP/1.1\r\nHost: not-configured-${i}.example:443\r\n\r\n`),
        raw(gw, `GARBAGE${i} \x01\r\n\r\n`),
        raw(admin, `GARBAGE${i} \x01\r\n\r\n`),
        send(admin, '/metrics', { headers: { host: `rebind-${i}.attacker.test` } }),
        send(gw, formAt, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=forged${i}` }),
        adminRequest(`${admin}/no-such-${i}`),
        adminRequest(`${admin}/console/api/users`),
        adminRequest(`${admin}/console/api/reload`, { method: 'POST', origin: 'http://evil.example', body: {} }),
      ])
    }
    for (let i = 0; i < 25; i++) await adminRequest(`${admin}/console/api/login`, { method: 'POST', origin: c.session.origin, body: { token: `${CONSOLE_TOKEN}-no${i}` } })
    await c.ops.gw.close()
    const flood = c.ops.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>)
    const summaries = flood.filter((e) => String(e.msg).startsWith('suppressed '))
    const lines = flood.filter((e) => !summaries.includes(e) && !/^(draining|drained)/.test(String(e.msg)))
    // A kind: the listener's line, its reason (or console result) and message shape.
    const kindOf = (e: Record<string, unknown>): string => `${String(e.listener ?? (e.audit ? 'console' : 'proxy'))} ${String(e.reason ?? e.result ?? '')} ${String(e.audit ? 'audit' : e.msg)}`
    const counts = new Map<string, number>()
    for (const e of lines) counts.set(kindOf(e), (counts.get(kindOf(e)) ?? 0) + 1)
    expect([...counts].filter(([, n]) => n > 1)).toEqual([])
    // Lines were held back, and each summary says how many.
    expect(summaries.length).toBeGreaterThan(5)
    for (const s of summaries) expect(s.suppressed).toBeGreaterThan(0)
  })
})
