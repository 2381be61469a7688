/**
 * What every admin request, the console's too, passes before any route runs, and the path it
 * names. RFC 9112 §3.2.2: a server MUST accept the absolute-form (`GET http://127.0.0.1:9090/metrics`)
 * for requests to itself. Such a target is served as its path when its authority names this
 * listener: its scheme (https with admin.tls) and a host:port it was configured with, is bound to,
 * or that this connection reached, or a name a Host header may give (`localhost`, admin.allowedHosts)
 * at one of those ports. Any other authority is a 421: the admin listener is never a
 * proxy. Host is judged as for every request (admin-host.ts), so no form of the target lets a name
 * through that origin-form would refuse, and the console's Origin checks read the same headers.
 */
import type { IncomingMessage } from 'node:http'
import { isIPv4, type AddressInfo } from 'node:net'
import { GatewayError } from '../errors.js'
import { refuseUntrusted } from '../proxy/untrusted-connection.js'
import { expectationRefusal, hasBody } from '../proxy/body.js'
import { headRefusal } from '../proxy/client-error.js'
import { parseAbsoluteForm, parseAuthority } from '../proxy/request-target.js'
import { unmappedAddress } from '../proxy/caller-address.js'
import type { AuthFailure } from '../callers/index.js'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import { adminHostRefusal, isAdminHostServed } from './admin-host.js'

/** The admin listener as a request may name it. */
export interface AdminListener {
  readonly tls: boolean
  /** admin.host and admin.port as configured. */
  readonly host: string
  readonly port: number
  /** Where it is bound (undefined before it listens). */
  address(): AddressInfo | string | null
  readonly events?: ConnectionEvents | undefined
  readonly onAuthFailure?: ((label: AuthFailure) => void) | undefined
  allowedHosts(): readonly string[]
}

/** A request a route may answer (the path it names, without its query), or the refusal to answer it with (closing when its body is unread). */
export type AdminAdmission = { readonly path: string } | { readonly error: GatewayError; readonly close: boolean }

/** Judges a request to the admin listener before any route runs. */
export function admitAdminRequest(listener: AdminListener, req: IncomingMessage): AdminAdmission {
  // A connection the caller trust in force would refuse at its handshake.
  const untrusted = refuseUntrusted(req.socket, 'admin.tls', listener.onAuthFailure)
  if (untrusted) return { error: untrusted, close: true }
  const close = hasBody(req.headers)
  // Node leaves these to the handlers (answerHeadsInHandlers). 100 Continue is sent by whoever reads a body (the console's readJsonBody), never here.
  const refused = headRefusal(req) ?? expectationRefusal(req)
  if (refused) return { error: refused, close }
  // A name this listener does not answer for may be a web page's DNS rebinding.
  const misdirected = adminHostRefusal(req, listener.allowedHosts())
  if (misdirected) listener.events?.onRejected?.('admin', misdirected, req.socket, req)
  if (misdirected) return { error: misdirected, close }
  const target = req.url ?? '/'
  if (!/^https?:\/\//i.test(target)) return { path: target.split('?')[0] ?? '/' }
  try {
    return { path: absolutePath(listener, req, target) }
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e
    if (e.reason === 'misdirected_request') listener.events?.onRejected?.('admin', e, req.socket, req)
    return { error: e, close }
  }
}

/** The path of an absolute-form target naming this listener; 400 for one not parsed, 421 for one naming another authority. */
function absolutePath(listener: AdminListener, req: IncomingMessage, target: string): string {
  const parsed = parseAbsoluteForm(target)
  const scheme = target.slice(0, target.indexOf(':')).toLowerCase()
  const own = listener.tls ? 'https' : 'http'
  const named = `${parsed.host ?? ''}:${parsed.port ?? (scheme === 'https' ? 443 : 80)}`
  const names = authoritiesOf(listener, req)
  if (scheme === own && (names.includes(named) || namesListenerByName(listener, names, parsed))) return parsed.path
  const known = [...new Set(names)].map((n) => `${own}://${n}`).join(', ')
  throw new GatewayError('misdirected_request', `the request target names ${scheme}://${named}, which is not this admin listener (${known}): the admin listener is not a proxy; send the path alone (GET /metrics) or name this listener (RFC 9110, section 7.4)`)
}

/** A target whose host is a name a Host header may give (`localhost`, admin.allowedHosts), at one of this listener's ports. Another IP address is another machine. */
function namesListenerByName(listener: AdminListener, names: readonly string[], parsed: { host?: string | undefined; port?: number | undefined }): boolean {
  const host = parsed.host
  if (host === undefined || host.startsWith('[') || isIPv4(host) || !isAdminHostServed(host, listener.allowedHosts())) return false
  const port = String(parsed.port ?? (listener.tls ? 443 : 80))
  return names.some((n) => n.slice(n.lastIndexOf(':') + 1) === port)
}

/** `host:port` of this listener as parseAuthority spells them: as configured, as bound, and as this connection reached it. */
function authoritiesOf(listener: AdminListener, req: IncomingMessage): string[] {
  const bound = listener.address()
  const out = [authorityOf(listener.host, listener.port)]
  if (bound !== null && typeof bound !== 'string') out.push(authorityOf(bound.address, bound.port))
  const { localAddress, localPort } = req.socket
  if (localAddress !== undefined && localPort !== undefined) out.push(authorityOf(unmappedAddress(localAddress), localPort))
  return out.filter((a): a is string => a !== undefined)
}

/** An address and port in the spelling a parsed target's authority has (lower case, canonical IPv6 in brackets); undefined when it is no host parseAuthority reads. */
function authorityOf(host: string, port: number): string | undefined {
  try {
    const parsed = parseAuthority(`${host.includes(':') ? `[${host}]` : host}:${port}`)
    return `${parsed.host}:${parsed.port ?? port}`
  } catch {
    return undefined
  }
}
