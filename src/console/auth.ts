/**
 * Who may use the console: a session cookie from the login form (the admin token), or an
 * admin client certificate the admin listener verified (admin.tls.clientCa) whose subject
 * CN or subjectAltName is on admin.tls's allow-list. State-changing requests must also
 * come from the console's own origin and carry the operator's CSRF token.
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { AdminConfig, AdminTlsConfig } from '../config/index.js'
import { cookieValues } from '../api/http.js'
import { singleHeader } from '../callers/index.js'
import { isAdminHostServed } from '../ops/index.js'
import { peerIdentity, type PeerIdentity } from '../tls/index.js'
import { SESSION_COOKIE, SESSION_TTL_MS, type Session, type Sessions } from './session.js'

/** The signed-in operator, and how: a session or an allowed certificate (no cookie then). */
export type Operator = { kind: 'session'; session: Session } | { kind: 'certificate'; who: string; fingerprint: string }

// Session cookies of one request tried at most: the browser's own and a few planted beside it.
const MAX_SESSION_COOKIES = 8

// Certificate operators' CSRF tokens are keyed apart from every admin token's sessions.
const CERTIFICATE_CSRF_KEY = 'admin.tls client certificate'

/** The client certificate the admin listener verified against admin.tls.clientCa, if any. */
function verifiedPeer(req: IncomingMessage): (PeerIdentity & { subject: string; fingerprint: string }) | undefined {
  const peer = peerIdentity(req.socket)
  if (!peer?.authorized || peer.subject === undefined || peer.fingerprint === undefined) return undefined
  return peer as PeerIdentity & { subject: string; fingerprint: string }
}

/** True when a verified certificate's CN or one of its subjectAltNames is on the allow-list (exact match). */
export function certificateAllowed(peer: PeerIdentity, tls: AdminTlsConfig | undefined): boolean {
  if (!peer.authorized || !tls) return false
  return (peer.subjectCN !== undefined && tls.clientSubjects.includes(peer.subjectCN)) || peer.sans.some((n) => tls.clientSans.includes(n))
}

/** A verified certificate on admin.tls.clientSubjects / clientSans signs its holder in. */
export function certificateOperator(req: IncomingMessage, admin: AdminConfig): Operator | undefined {
  const peer = verifiedPeer(req)
  return peer && certificateAllowed(peer, admin.tls) ? { kind: 'certificate', who: `cert:${peer.subject}`, fingerprint: peer.fingerprint } : undefined
}

/** The subject of a verified certificate that is not on the allow-list (it gets the login form). */
export function refusedCertificate(req: IncomingMessage, admin: AdminConfig): string | undefined {
  const peer = verifiedPeer(req)
  return peer && !certificateAllowed(peer, admin.tls) ? peer.subject : undefined
}

/** The operator of a request, if any; a session cookie is checked against the shared store (503 while it is away). */
export async function operatorOf(req: IncomingMessage, sessions: Sessions, admin: AdminConfig): Promise<Operator | undefined> {
  const cert = certificateOperator(req, admin)
  if (cert) return cert
  if (admin.token === undefined) return undefined
  // Ports do not separate cookies: a page on another port of this host can plant cookies of this
  // name, sent before ours when their Path is longer. Each value is tried (a bounded few), so a
  // planted one cannot sign the operator out; each must verify on its own.
  for (const value of cookieValues(req.headers.cookie, SESSION_COOKIE).slice(0, MAX_SESSION_COOKIES)) {
    const session = await sessions.verify(value, admin.token)
    if (session) return { kind: 'session', session }
  }
  return undefined
}

/** What an operator's CSRF token is bound to: the session under the token, or the certificate. */
export function csrfBinding(op: Operator, token: string | undefined): { id: string; key: string } | undefined {
  if (op.kind === 'certificate') return { id: `cert.${op.fingerprint}`, key: CERTIFICATE_CSRF_KEY }
  return token === undefined ? undefined : { id: op.session.id, key: token }
}

/** Who, for the audit line. */
export function whoIs(op: Operator): string {
  return op.kind === 'session' ? op.session.who : op.who
}

// An origin as a browser serialises it (RFC 6454 §6.2): lowercase, the port only when not the
// scheme's default. Anything else (absent, "null", two Origin lines joined by ", ") is no console page.
const BROWSER_ORIGIN = /^(https?):\/\/([a-z0-9._-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/
const HOST_VALUE = /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?$/

/**
 * True when the request comes from a page of this console, as a browser says: Sec-Fetch-Site, if
 * sent, is same-origin, and Origin (which browsers send on every POST) names the scheme the admin
 * listener serves (https with admin.tls), the host and port of `Host`, and a host the admin
 * listener answers for (an IP literal, localhost, admin.allowedHosts) — or is exactly one of
 * admin.consoleOrigins, where a TLS-terminating proxy publishes the console (whatever Host it
 * forwards; X-Forwarded-* are not read). It holds on its own: a page whose name is rebound to the
 * admin address sends its own name as both Host and Origin, and is refused here as by the
 * listener's Host check.
 */
export function isSameOrigin(req: IncomingMessage, allowedHosts: readonly string[], consoleOrigins: readonly string[] = []): boolean {
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return false
  const origin = BROWSER_ORIGIN.exec(req.headers.origin ?? '')
  if (origin && consoleOrigins.includes(origin[0])) return true
  const host = HOST_VALUE.exec(singleHeader(req, 'host', 'Host') ?? '')
  if (!origin || !host) return false
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http'
  const port = (p: string | undefined): number => (p === undefined ? (scheme === 'https' ? 443 : 80) : Number(p))
  const [, originScheme, originHost = '', originPort] = origin
  return originScheme === scheme && originHost === host[1]?.toLowerCase() && port(originPort) === port(host[2]) && isAdminHostServed(originHost, allowedHosts)
}

/**
 * The Set-Cookie value for a session: Secure when the admin listener serves TLS, or when the
 * browser's page is https behind a TLS-terminating proxy (sign-in and sign-out are POSTs that
 * passed isSameOrigin, so their Origin is the page's own).
 */
export function sessionCookie(req: IncomingMessage, value: string, maxAgeMs = SESSION_TTL_MS): string {
  const secure = (req.socket as Partial<TLSSocket>).encrypted === true || req.headers.origin?.startsWith('https://') === true ? '; Secure' : ''
  return `${SESSION_COOKIE}=${value}; Path=/console/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure}`
}
