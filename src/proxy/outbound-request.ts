/**
 * The request a proxied call sends upstream (pipeline.ts's Outbound), with its URL parsed only
 * when a step reads or edits it. Most requests reach the forward step with the URL exactly as
 * route built it; parsing it then (WHATWG, per request) only to read back the same path and
 * query cost the mTLS-only path more than any of its steps (docs/performance.md, session 29).
 */
import type { SignableUrl } from '../oauth1/index.js'
import type { Body, Outbound, OutboundHeaders } from './pipeline.js'
import { assertDestination, assertDestinationPath, toOutboundUrl, type UpstreamTarget } from './upstream-target.js'

/** A request's outbound URL until route sets the endpoint's; parsed per request that reads it (a step may edit it), which none does before route. */
const UNROUTED_HREF = 'https://unrouted.invalid/'

export class OutboundRequest implements Outbound {
  method: string
  headers: OutboundHeaders
  body: Body
  #url: URL | undefined
  #target: UpstreamTarget | undefined

  constructor(method: string, headers: OutboundHeaders, body: Body) {
    this.method = method
    this.headers = headers
    this.body = body
  }

  /** The URL the steps edit: the target's, parsed (and checked) at the first read. */
  get url(): URL {
    if (this.#url === undefined) this.#url = this.#target === undefined ? new URL(UNROUTED_HREF) : toOutboundUrl(this.#target)
    return this.#url
  }

  set url(url: URL) {
    this.#url = url
  }

  /** Route's destination; no URL is parsed until a step asks for one. */
  routeTo(target: UpstreamTarget): void {
    this.#target = target
    this.#url = undefined
  }

  /** The URL's parts for the signer: the target's own while untouchedPathAndQuery holds, else the URL. */
  urlToSign(): URL | SignableUrl {
    const target = this.#target
    const pathAndQuery = this.untouchedPathAndQuery()
    if (target === undefined || pathAndQuery === undefined) return this.url
    // The origin's scheme and host were split once, with the destination (gateway/destination.ts).
    const { protocol, host } = target.originParts
    return { protocol, host, pathname: target.path, search: target.query, hash: '', href: target.origin + pathAndQuery }
  }

  /** The target's path and query, when no step has read the URL and parsing would give them back unchanged. */
  untouchedPathAndQuery(): string | undefined {
    const target = this.#target
    if (this.#url !== undefined || target === undefined) return undefined
    return keptByUrlParser(target.path, target.query) ? target.path + target.query : undefined
  }
}

/** What the signer reads of the outbound URL (parsed only when a step already did). */
export function outboundUrlToSign(outbound: Outbound): URL | SignableUrl {
  return outbound instanceof OutboundRequest ? outbound.urlToSign() : outbound.url
}

/** Sets the outbound destination to `target` (lazily for an OutboundRequest). */
export function routeOutbound(outbound: Outbound, target: UpstreamTarget): void {
  if (outbound instanceof OutboundRequest) outbound.routeTo(target)
  else outbound.url = toOutboundUrl(target)
}

/**
 * The path and query to send, checked right before the dial: still under the target's base path
 * (the URL's origin is checked too when a step may have edited it).
 */
export function destinationPathAndQuery(target: UpstreamTarget, outbound: Outbound): string {
  const untouched = outbound instanceof OutboundRequest ? outbound.untouchedPathAndQuery() : undefined
  if (untouched !== undefined) {
    assertDestinationPath(target, target.path)
    return untouched
  }
  const url = outbound.url
  assertDestination(target, url)
  return url.pathname + url.search
}

/**
 * Whether `new URL(origin + path + query)` has exactly `path` as its pathname and `query` as its
 * search (conservative: anything the parser might encode, resolve or drop takes the URL). In the
 * path: no "%", "\\", "//", "/." or control character (isPlainPath's rules), nothing outside
 * printable ASCII and none of `"#<>?\^`{}` (the WHATWG path percent-encode set; "^" is in it);
 * in the query: printable ASCII without `"#<>'`, and not a bare "?" (its search is '').
 */
export function keptByUrlParser(path: string, query: string): boolean {
  if (path.charCodeAt(0) !== 0x2f) return false
  let prev = 0x2f
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x23 || c === 0x25 || c === 0x3c || c === 0x3e || c === 0x3f || c === 0x5c || c === 0x5e || c === 0x60 || c === 0x7b || c === 0x7d) return false
    if (prev === 0x2f && (c === 0x2f || c === 0x2e)) return false
    prev = c
  }
  if (query === '') return true
  if (query.length === 1 || query.charCodeAt(0) !== 0x3f) return false
  for (let i = 1; i < query.length; i++) {
    const c = query.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x23 || c === 0x27 || c === 0x3c || c === 0x3e) return false
  }
  return true
}
