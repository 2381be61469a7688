/**
 * Binds a dance's callback to the browser that started it. The click on the gateway's link
 * page (the only way a dance starts) sets a random cookie named after the request token; the
 * pending request keeps only the digest of its value, in the shared store. The provider's
 * redirect back is a top-level GET, so a SameSite=Lax cookie comes with it: the callback can
 * tell the browser that clicked from one that was only sent the provider's URL, and approving
 * someone else's authorization (or having someone else approve yours) stores nothing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { cookieValues } from '../api/http.js'
import type { PendingRequest } from './tokens.js'

/** One dance's cookie: what its Set-Cookie and the header clearing it share. */
export interface BindingCookie {
  readonly name: string
  readonly path: string
  readonly secure: boolean
}

/** What the pending request keeps: the cookie (to clear it) and the digest of its value. */
export interface BrowserBinding {
  readonly cookie: BindingCookie
  /** base64url SHA-256 of the cookie's value; the value itself is only in the browser. */
  readonly digest: string
}

/** Why a callback did not get its pending request. */
export type ClaimRefusal = 'unknown' | 'cookie_missing' | 'cookie_mismatch'

/** A callback's claim on a pending request: the request, or why not (and the cookie to clear). */
export type Claim<P = PendingRequest> =
  | { readonly ok: true; readonly pending: P }
  | { readonly ok: false; readonly why: ClaimRefusal; readonly cookie?: BindingCookie }

const NAME = 'mtls_gw_dance_'
// Anything a Path attribute may not hold (RFC 6265 §4.1.1: no CTLs, no ";").
const UNSAFE_PATH = /[^\x21-\x3a\x3c-\x7e]/

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * The cookie for a request token whose callback is `callbackUrl`. Over https it is a
 * `__Host-` cookie: Secure, Path=/, no Domain, so no sibling subdomain can set or shadow it
 * (an attacker knows the name and value of their own dance's cookie). Over plain http that
 * prefix is not allowed; the cookie is then sent only to the callback's own path.
 */
export function bindingCookieFor(requestToken: string, callbackUrl: string): BindingCookie {
  const tag = sha256(requestToken).toString('base64url').slice(0, 22)
  const u = new URL(callbackUrl)
  if (u.protocol === 'https:') return { name: `__Host-${NAME}${tag}`, path: '/', secure: true }
  return { name: `${NAME}${tag}`, path: UNSAFE_PATH.test(u.pathname) ? '/' : u.pathname, secure: false }
}

/** A fresh binding for a request token: the value goes to the browser, the digest to the store. */
export function issueBinding(requestToken: string, callbackUrl: string): { binding: BrowserBinding; value: string } {
  const value = randomBytes(32).toString('base64url')
  return { binding: { cookie: bindingCookieFor(requestToken, callbackUrl), digest: sha256(value).toString('base64url') }, value }
}

function attributes(cookie: BindingCookie, maxAgeSec: number): string {
  return `Max-Age=${maxAgeSec}; Path=${cookie.path}; HttpOnly; SameSite=Lax${cookie.secure ? '; Secure' : ''}`
}

/** The Set-Cookie header that hands `value` to the browser for `maxAgeSec` seconds. */
export function setBindingCookie(cookie: BindingCookie, value: string, maxAgeSec: number): string {
  return `${cookie.name}=${value}; ${attributes(cookie, Math.max(1, Math.floor(maxAgeSec)))}`
}

/** The Set-Cookie header that removes the cookie (same name, path and Secure, or browsers keep it). */
export function clearBindingCookie(cookie: BindingCookie): string {
  return `${cookie.name}=; ${attributes(cookie, 0)}`
}

/** True when `value` is the bound cookie's (digests compared in constant time). */
function matches(binding: BrowserBinding, value: string): boolean {
  const stored = Buffer.from(binding.digest, 'base64url')
  const given = sha256(value)
  return stored.length === given.length && timingSafeEqual(stored, given)
}

/** What a claim needs of the pending requests. */
export interface PendingSource<P> {
  /** True when a record is stored for `requestToken` (read only); without it, the take alone decides. */
  hasPending?(requestToken: string): Promise<boolean>
  takePending(requestToken: string): Promise<P | undefined>
}

/**
 * Takes the pending request of `requestToken` (one shot, whatever the cookie says), then
 * checks the browser's Cookie header against its binding. A callback from the wrong browser
 * burns the request: the verifier in its URL has been seen outside the browser that started
 * the dance, and must not be redeemable later by whoever holds the cookie. A record without a
 * binding (written before bindings existed) is refused the same way.
 * Read before it is taken: a store that is down or paused fails the read, and the dance is left
 * as it was (a take whose answer is lost may still be carried out when the store resumes).
 */
export async function claimPending<P extends object>(repo: PendingSource<P>, requestToken: string, cookieHeader: string | undefined): Promise<Claim<P>> {
  if (repo.hasPending && !(await repo.hasPending(requestToken))) return { ok: false, why: 'unknown' }
  const pending = await repo.takePending(requestToken)
  if (pending === undefined) return { ok: false, why: 'unknown' }
  const binding = (pending as Partial<PendingRequest>).browser
  if (binding === undefined) return { ok: false, why: 'cookie_mismatch' }
  const values = cookieValues(cookieHeader, binding.cookie.name)
  if (values.length === 0) return { ok: false, why: 'cookie_missing', cookie: binding.cookie }
  // Every value is checked (no early exit): which one matched must not show in the timing.
  const matched = values.map((v) => matches(binding, v)).includes(true)
  return matched ? { ok: true, pending } : { ok: false, why: 'cookie_mismatch', cookie: binding.cookie }
}
