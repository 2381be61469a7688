/**
 * Whether a link page's POST came from the gateway's own page. Browsers name another site in
 * `Sec-Fetch-Site` only to trustworthy origins (https, localhost): over plain http a form another
 * site auto-submits carried nothing to refuse it by, and whoever held a link (its CSRF token is on
 * its page) could have a victim's browser press its button — the victim's approval then stored
 * for the link's user (login CSRF). Browsers always send `Origin` with a POST, so it decides: it
 * must name this request's host (or the gateway's public origin); `null` (an opaque origin: a
 * sandboxed frame, a page with no-referrer) never does. The gateway's pages send `same-origin`
 * referrers (pages.ts), so their own POST names its origin. A POST without `Origin` is no
 * browser's: the CSRF token alone judges it.
 */
import type { IncomingMessage } from 'node:http'
import { singleHeader } from '../callers/index.js'

/** True when `req` may be the link page's own POST; `publicUrl` is the link's origin or listen.publicUrl, when known. */
export function fromGatewayPage(req: IncomingMessage, publicUrl: string | undefined): boolean {
  const site = singleHeader(req, 'sec-fetch-site', 'Sec-Fetch-Site')
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false
  const origin = singleHeader(req, 'origin', 'Origin')
  if (origin === undefined) return true
  let named: URL
  try {
    named = new URL(origin)
  } catch {
    return false
  }
  if (origin === 'null' || named.origin === 'null') return false
  const host = singleHeader(req, 'host', 'Host')?.toLowerCase()
  return named.host === host || (publicUrl !== undefined && named.origin === new URL(publicUrl).origin)
}
