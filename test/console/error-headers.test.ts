/**
 * Console error replies are console responses like the others: the strict CSP and the browser
 * hardening headers, and Cache-Control: no-store, since a message may name what the console
 * holds (a user id, a profile) and must stay out of shared and browser caches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CSP } from '../../src/console/http.js'
import { adminRequest, startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('console-error-headers-')
})

afterAll(async () => {
  await c?.close()
})

describe('console error replies', () => {
  it('carry no-store and the CSP: 400, 401, 403, 404, 405', async () => {
    const api = `${c.ops.adminUrl}/console/api/`
    const replies = await Promise.all([
      c.post('users/revoke', { profile: 'partner', user: 'erin-private-id', space: '' }),
      c.post('users/revoke', { profile: 'partner' }),
      adminRequest(`${api}users`),
      adminRequest(`${api}reload`, { method: 'POST', origin: 'http://evil.example', body: {} }),
      c.get('no-such-route'),
      c.get('reload'),
      adminRequest(`${c.ops.adminUrl}/console/no-such-file.js`),
    ])
    expect(replies.map((r) => r.status)).toEqual([404, 400, 401, 403, 404, 405, 404])
    expect(replies[0]?.text).toContain('erin-private-id')
    for (const r of replies) {
      expect(r.headers['cache-control'], r.text).toBe('no-store')
      expect(r.headers['content-security-policy']).toBe(CSP)
      expect(r.headers['x-frame-options']).toBe('DENY')
    }
  })

  it('the admin listener\'s refusals before any route (a rebinding Host) carry the hardening too, and so do metrics and probes', async () => {
    const refused = [
      await adminRequest(`${c.ops.adminUrl}/console/`, { headers: { host: 'evil.example' } }),
      await adminRequest(`${c.ops.adminUrl}/healthz`, { headers: { host: 'evil.example' } }),
    ]
    expect(refused.map((r) => r.status)).toEqual([421, 421])
    const plain = [await adminRequest(`${c.ops.adminUrl}/healthz`), await adminRequest(`${c.ops.adminUrl}/metrics`)]
    expect(plain.map((r) => r.status)).toEqual([200, 200])
    for (const r of [...refused, ...plain]) {
      expect(r.headers['content-security-policy'], r.text).toBe("default-src 'none'; frame-ancestors 'none'")
      expect(r.headers['x-frame-options']).toBe('DENY')
      expect(r.headers['x-content-type-options']).toBe('nosniff')
    }
  })
})
