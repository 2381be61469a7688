/**
 * The admin listener answers only for names it knows (DNS rebinding). A web page open in an
 * operator's browser can point a name of its own at 127.0.0.1 and then read /metrics and
 * /readyz as same-origin, since the browser sends the attacker's name as Host. Rebinding needs a
 * name: an IP literal or `localhost` (which browsers resolve to loopback themselves) is always
 * served, any other name only when admin.allowedHosts lists it, like Grafana's enforce_domain,
 * Jupyter's local_hostnames or a dev server's allowedHosts.
 */
import type { IncomingMessage } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'
import { GatewayError } from '../errors.js'
import { singleHeader } from '../callers/index.js'
import { comparableHostName } from '../config/index.js'

/** The host of a Host value (`host[:port]`, already checked against RFC 9112 §3.2), without its port. */
function hostPart(value: string): string {
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1)
  const colon = value.lastIndexOf(':')
  return colon < 0 ? value : value.slice(0, colon)
}

/** Whether a browser could have reached this host through a DNS answer it does not control the name of. */
function isAlwaysServed(host: string): boolean {
  // A bracketed IPv6 literal (a zone written as %25…); an IPvFuture literal is no address Node can serve.
  if (host.startsWith('[')) return isIPv6(host.slice(1, -1).replace('%25', '%'))
  // Dotted-quad only: browsers send any other spelling of an IPv4 address (127.1, 0x7f.0.0.1) as the dotted quad.
  return isIPv4(host) || comparableHostName(host) === 'localhost'
}

/** True when the admin listener answers for `host` (no port): an IP literal, `localhost` or a name in admin.allowedHosts. */
export function isAdminHostServed(host: string, allowedHosts: readonly string[]): boolean {
  return isAlwaysServed(host) || allowedHosts.includes(comparableHostName(host))
}

/**
 * The 421 for a request whose Host names a host this listener does not answer for, or undefined.
 * A request without Host (HTTP/1.0) names none: a browser always sends one. Runs after headRefusal,
 * which refused a Host that is repeated or not a `host[:port]`.
 */
export function adminHostRefusal(req: IncomingMessage, allowedHosts: readonly string[]): GatewayError | undefined {
  const value = singleHeader(req, 'host', 'Host')
  if (value === undefined) return undefined
  const host = hostPart(value)
  if (isAdminHostServed(host, allowedHosts)) return undefined
  const shown = host.length > 100 ? `${host.slice(0, 100)}…` : host
  return new GatewayError('admin_host_not_allowed', `the Host header names "${shown}", which the admin listener does not answer for: it answers for its IP addresses, localhost and the names in admin.allowedHosts (a name not listed there may be a web page's DNS rebinding); reach it by address or add the name to admin.allowedHosts`)
}
