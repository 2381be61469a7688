/**
 * Who may use the console: a session cookie from the login form (the admin token), or an
 * admin client certificate when the admin listener verified one. State-changing requests
 * must also come from the console's own origin and carry the session's CSRF token.
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { cookieValue, SESSION_COOKIE, SESSION_TTL_MS, type Session, type Sessions } from './session.js'

/** The signed-in operator, and how: a session or a verified certificate (no cookie then). */
export type Operator = { kind: 'session'; session: Session } | { kind: 'certificate'; who: string }

/** The certificate's subject when the admin listener verified a client certificate. */
export function certificateOperator(req: IncomingMessage): Operator | undefined {
  const socket = req.socket as Partial<TLSSocket>
  if (socket.encrypted !== true || socket.authorized !== true || !socket.getPeerCertificate) return undefined
  const cert = socket.getPeerCertificate()
  const cn = cert.subject?.CN
  return { kind: 'certificate', who: `cert:${Array.isArray(cn) ? cn.join(',') : (cn ?? 'unknown')}` }
}

/** The operator of a request, if any. */
export function operatorOf(req: IncomingMessage, sessions: Sessions, token: string | undefined): Operator | undefined {
  const cert = certificateOperator(req)
  if (cert) return cert
  if (token === undefined) return undefined
  const session = sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE), token)
  return session ? { kind: 'session', session } : undefined
}

/** Who, for the audit line. */
export function whoIs(op: Operator): string {
  return op.kind === 'session' ? op.session.who : op.who
}

/** True when the request comes from a page of this console (Origin / Fetch Metadata), as a browser says. */
export function isSameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return false
  const origin = req.headers.origin
  if (origin === undefined) return site === 'same-origin'
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http'
  return origin === `${scheme}://${req.headers.host ?? ''}`
}

/** The Set-Cookie value for a session (Secure when the admin listener serves TLS). */
export function sessionCookie(req: IncomingMessage, value: string, maxAgeMs = SESSION_TTL_MS): string {
  const secure = (req.socket as Partial<TLSSocket>).encrypted === true ? '; Secure' : ''
  return `${SESSION_COOKIE}=${value}; Path=/console/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure}`
}
