/**
 * The request line's target, parsed by hand for the three ways in (absolute-form, route
 * mode, inner requests of a CONNECT tunnel). No URL parser sees the raw string: WHATWG
 * URL rewrites `\` to `/`, resolves `..` and `%2e%2e`, and turns a `//host` path into an
 * authority — exactly what must never decide where credentials go. Everything refused
 * here is a 400 naming what is wrong (docs/paths.md).
 */
import { isIPv6 } from 'node:net'
import { GatewayError } from '../errors.js'
import { matchName } from '../config/index.js'

/** What a request names. `host`/`port` are absent for origin-form and route mode. */
export interface RequestTarget {
  /** Lower-case host; an IPv6 literal in brackets, canonical (`[::1]`). */
  readonly host?: string
  readonly port?: number
  /** The raw path as sent, starting with `/`; judged later by checkRequestPath. */
  readonly path: string
  /** The raw query with its `?`, or ''. */
  readonly query: string
  /**
   * Set when the target asks about the server as a whole: absolute-form with no path and no
   * query (`http://host:port`), or `*` inside a tunnel. An OPTIONS so named goes upstream as
   * `OPTIONS *` (RFC 9112 §3.2.4); matched and checked as the path `/`.
   */
  readonly wholeServer?: true
}

/** Route mode: `/proxy/<endpoint>[@<tenant>]<path>`. */
export interface RouteTarget {
  readonly endpoint: string
  readonly tenant?: string
  readonly path: string
}

const VISIBLE_ASCII = /^[\x21-\x7e]*$/
const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i
const REG_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/
const ROUTE = /^\/proxy\/([a-z0-9][a-z0-9_-]*)(?:@([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$/

function bad(msg: string): GatewayError {
  return new GatewayError('bad_request', msg)
}

function misdirected(msg: string): GatewayError {
  return new GatewayError('misdirected_request', msg)
}

function checkCharacters(raw: string): void {
  if (!VISIBLE_ASCII.test(raw)) throw bad('request target contains a character outside visible ASCII (percent-encode it)')
}

/** `host[:port]` of an absolute-form target or a tunnel: no userinfo, a DNS name or IP literal, port 1–65535. */
export function parseAuthority(authority: string): { host: string; port?: number } {
  if (authority.includes('@')) throw bad('userinfo (user:password@) in the request target is refused (RFC 9110 §4.2.4)')
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(authority)
  if (!m || m[1] === '') throw bad(`request target authority "${authority}" is not host[:port]`)
  const hostPart = (m[1] as string).toLowerCase()
  let host: string
  if (hostPart.startsWith('[')) {
    const inner = hostPart.slice(1, -1)
    // isIPv6 takes a zone (`fe80::1%25eth0`), which URL below throws on: refused here, as the message says.
    if (!isIPv6(inner) || inner.includes('%')) throw bad(`request target host ${hostPart} is not an IPv6 address (zone identifiers are refused)`)
    // A validated literal only: URL gives its canonical spelling, which host matching uses.
    host = new URL(`http://${hostPart}/`).hostname
  } else {
    // One trailing dot is the fully qualified spelling of the same name (matchName).
    host = matchName(hostPart)
    if (!REG_NAME.test(host)) throw bad(`request target host "${hostPart}" is not a valid host name`)
  }
  if (m[2] === undefined || m[2] === '') return { host }
  const port = Number(m[2])
  if (m[2].length > 5 || port < 1 || port > 65535) throw bad(`request target port "${m[2]}" is not 1–65535`)
  return { host, port }
}

/**
 * A CONNECT's target, `host:port`; undefined when malformed. A DNS name or dotted IPv4 is
 * lower-cased, one trailing dot dropped; an IPv6 literal is returned without brackets in its canonical spelling (WHATWG URL's:
 * `[0:0:0:0:0:0:0:1]`, `[::0001]` and `[::1]` are one address, so one configured host). Only the
 * spelling changes, never the address: what is matched and dialled is the configured one.
 */
export function parseConnectTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(target)
  const port = Number(m?.[2])
  if (!m || port < 1 || port > 65535) return undefined
  const host = (m[1] as string).toLowerCase()
  // `api.partner.test.` is `api.partner.test` (matchName); `host..` and `.` stay as written and match nothing.
  if (!host.startsWith('[')) return { host: matchName(host), port }
  // The class above leaves no room for a zone (`%`), which URL would throw on.
  if (!isIPv6(host.slice(1, -1))) return undefined
  return { host: new URL(`http://${host}/`).hostname.slice(1, -1), port }
}

/** `http(s)://authority/path?query` as sent to a forward proxy. */
export function parseAbsoluteForm(raw: string): RequestTarget {
  checkCharacters(raw)
  const m = ABSOLUTE.exec(raw)
  if (!m) throw bad('absolute-form request target is not scheme://host[:port]/path')
  if (m[5] !== undefined) throw bad('a fragment (#) in the request target is refused')
  const { host, port } = parseAuthority(m[2] as string)
  return m[3] === '' && m[4] === undefined ? wholeServerOf(host, port) : targetOf(host, port, m[3] || '/', m[4] ?? '')
}

/**
 * An inner request of a CONNECT tunnel: origin-form, or absolute-form naming the tunnel's own
 * authority. An origin-form request names its host in Host (RFC 9112 §3.3: the target URI is
 * `https://` + Host + path), so a Host naming another host is refused as absolute-form naming it
 * is: served, it went to the tunnel's endpoint with that endpoint's credentials all the same.
 * Naming another host or port is 421 (RFC 9110 §7.4: the target URI does not match the
 * connection it came on; another connection may serve it); a Host that is no host[:port] is 400
 * (RFC 9112 §3.2: an invalid Host field value).
 */
export function parseTunnelTarget(raw: string, tunnelAuthority: string, host?: string, method?: string): RequestTarget {
  const tunnel = tunnelAuthorityOf(tunnelAuthority)
  if (/^https?:\/\//i.test(raw)) {
    const t = parseAbsoluteForm(raw)
    if (t.host !== tunnel.host || (t.port ?? 443) !== (tunnel.port ?? 443)) {
      throw misdirected(`absolute-form target names ${t.host}:${t.port ?? 443}, but this tunnel is for ${tunnelAuthority}`)
    }
    return t.wholeServer ? wholeServerOf(tunnel.host, tunnel.port) : targetOf(tunnel.host, tunnel.port, t.path, t.query)
  }
  checkCharacters(raw)
  // The tunnel's own authority as sent (its canonical spelling: what curl, Go and Node send) needs no parse.
  // So does its host alone when the port is 443 (what a client sends for the default port): parseAuthority's own output, canonical already.
  if (host !== undefined && host !== tunnelAuthority && !(host === tunnel.host && (tunnel.port ?? 443) === 443) && !namesTunnel(host, tunnel)) throw misdirected(`the Host header names ${host}, but this tunnel is for ${tunnelAuthority}`)
  // Asterisk-form names the origin server itself, and only an OPTIONS may (RFC 9112 §3.2.4).
  if (raw === '*' && method === 'OPTIONS') return wholeServerOf(tunnel.host, tunnel.port)
  if (!raw.startsWith('/')) throw bad('request target inside a tunnel must be a path starting with "/" (or absolute-form, or "*" for OPTIONS)')
  if (raw.includes('#')) throw bad('a fragment (#) in the request target is refused')
  const q = raw.indexOf('?')
  return q < 0 ? targetOf(tunnel.host, tunnel.port, raw, '') : targetOf(tunnel.host, tunnel.port, raw.slice(0, q), raw.slice(q))
}

/** Tunnel authorities as parsed: every inner request of a tunnel names its CONNECT's, which names a configured host. */
const tunnelAuthorities = new Map<string, Readonly<{ host: string; port?: number }>>()
/** Far above the configured hosts' spellings; past it the map starts again rather than grow. */
const MAX_TUNNEL_AUTHORITIES = 256

/** parseAuthority of a tunnel's authority, parsed once rather than on each of its inner requests. */
function tunnelAuthorityOf(authority: string): Readonly<{ host: string; port?: number }> {
  let parsed = tunnelAuthorities.get(authority)
  if (parsed === undefined) {
    parsed = Object.freeze(parseAuthority(authority))
    if (tunnelAuthorities.size >= MAX_TUNNEL_AUTHORITIES) tunnelAuthorities.clear()
    tunnelAuthorities.set(authority, parsed)
  }
  return parsed
}

/** True when a Host value names the tunnel's host and port (443 when it names none), one trailing dot aside (parseAuthority); a value that is no host[:port] is a 400. */
function namesTunnel(host: string, tunnel: { host: string; port?: number }): boolean {
  let named: { host: string; port?: number }
  try {
    named = parseAuthority(host)
  } catch (e) {
    // Not a host[:port] this gateway reads (no DNS name, a zone): an invalid Host, not another host.
    if (e instanceof GatewayError) throw bad(`the Host header ${host} is not a host[:port] (RFC 9112, section 3.2)`)
    throw e
  }
  return named.host === tunnel.host && (named.port ?? 443) === (tunnel.port ?? 443)
}

/**
 * A target as one literal: no spread-built object on the request path (test/object-shapes.test.ts
 * says why: on Node 20 such an object is slow to make and to read everywhere it goes).
 */
function targetOf(host: string, port: number | undefined, path: string, query: string): RequestTarget {
  return port === undefined ? { host, path, query } : { host, port, path, query }
}

/** A target naming the server as a whole: matched as `/`, sent as `*` by an OPTIONS. */
function wholeServerOf(host: string, port: number | undefined): RequestTarget {
  return port === undefined ? { host, path: '/', query: '', wholeServer: true } : { host, port, path: '/', query: '', wholeServer: true }
}

/** `/proxy/<endpoint>[@<tenant>][/<path>][?<query>]`. */
export function parseRoute(raw: string): { route: RouteTarget; target: RequestTarget } {
  checkCharacters(raw)
  const m = ROUTE.exec(raw)
  if (!m) throw bad('route mode expects /proxy/<endpoint>/<path> (endpoint: lower-case letters, digits, "-", "_")')
  if (m[5] !== undefined) throw bad('a fragment (#) in the request target is refused')
  const rest = m[3] as string
  if (rest !== '' && !rest.startsWith('/')) throw bad('route mode expects /proxy/<endpoint>/<path>: the path after the endpoint must start with "/"')
  const path = rest || '/'
  return { route: { endpoint: m[1] as string, path, ...(m[2] !== undefined ? { tenant: m[2] } : {}) }, target: { path, query: m[4] ?? '' } }
}
