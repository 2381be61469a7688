/**
 * What every response of the dance's browser-facing addresses (the link page, the callback,
 * their failure pages and redirects) must carry, for the tests that fetch them.
 */
import { expect } from 'vitest'
import type { Reply } from '../support/gateway.js'

/** The browser hardening headers of every dance page and redirect: no framing (clickjacking the link page's button), no <base>, no sniffing, no cache, no referrer. */
export const DANCE_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

/** `r` is a dance HTML page with status `status`, every hardening header, and its body's Content-Length. */
export function expectDancePage(r: Reply, status: number, what: string): void {
  expect([what, r.status, r.headers['content-type']], r.text.slice(0, 300)).toEqual([what, status, 'text/html; charset=utf-8'])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
  expect([what, r.headers]).toMatchObject([what, DANCE_PAGE_HEADERS])
}

/** `r` is the dance's failure page saying `why` (HTML-escaped), its status shown. */
export function expectFailurePage(r: Reply, status: number, why: string, what: string): void {
  expectDancePage(r, status, what)
  expect(r.text).toContain('data-result="failure">Authorization failed</h1>')
  expect(r.text).toContain(`<p>${why.replaceAll('"', '&quot;')}`)
  expect(r.text).toContain(`<code>${status}</code>`)
}
