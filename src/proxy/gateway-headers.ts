/**
 * Headers the gateway sets (authorization fields, the OAuth Authorization header, the forwarding
 * headers): a caller's header that a backend would read as the same name must not travel beside
 * the gateway's. CGI-style backends (PHP, WSGI, Rack, lighttpd's FastCGI) key headers as
 * `HTTP_X_ALPHA_SECRET`: case folded, "-" and "_" alike (RFC 3875 §4.1.18), and lighttpd reads
 * every other character but a letter or digit as "_" too. So `X_Alpha_Secret` or
 * `x-alpha.secret` beside the gateway's `X-Alpha-Secret` could shadow it; they are removed.
 */
import type { Outbound, OutboundHeaders } from './pipeline.js'

/**
 * The body's framing and how its bytes are read: headers meant for every recipient of the content
 * (RFC 9110 §7.6.1: a sender MUST NOT list one in Connection). A Connection header naming one (in
 * any spelling) is not obeyed, on requests or answers, as neither nginx nor Envoy obeys it: the
 * header is kept. Without it, an answer's body loses its length (a HEAD or 304 its only word on it),
 * its type (a caller sniffs one), its coding (gzip bytes read as text) or its range (a part read as
 * the whole); a request's, what the gateway judged the body by.
 */
export const REPRESENTATION: readonly string[] = ['content-type', 'content-length', 'content-encoding', 'content-range']

/**
 * The body's type, length, coding and range, and its transfer coding: only their own spelling
 * travels, either way. A request's `Content.Type` is PHP's CONTENT_TYPE, the real one's key, and
 * its `Transfer_Encoding: chunked` is WSGI's HTTP_TRANSFER_ENCODING, which Werkzeug reads as "no
 * length". A response's, relayed beside the real ones, would frame or decode the body (a
 * `Content_Encoding: gzip` beside a plain body, a `content.range` making the whole a part) for a
 * caller or front proxy that folds `_` and `.` to `-` (nginx with underscores_in_headers, CGI and
 * WSGI callers) otherwise than the gateway did.
 */
export const BODY_FRAMING: readonly string[] = [...REPRESENTATION, 'transfer-encoding']

/** A header name as CGI-style backends key it. */
export function cgiHeaderName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '_')
}

// Names Node's parser hands over: lower-case tokens. One spelled only with these is a CGI shadow of
// a name spelled the same way only when it is that very name: no folding needed (a fast path).
const PLAIN_NAME = /^[a-z][a-z0-9-]*$/

/** Sets `name` (lower-case) to the gateway's value, removing every caller header that a backend would read as the same name. */
export function setGatewayHeader(outbound: Outbound, name: string, value: string): void {
  const headers = outbound.headers
  // Two distinct plain names never share a CGI key ("-" is the only character folded, to a "_" neither holds).
  const plain = PLAIN_NAME.test(name)
  let key: string | undefined
  for (const other in headers) {
    // A CGI name keeps the length; most headers differ in it and need no folding.
    if (other !== name && other.length === name.length && !(plain && PLAIN_NAME.test(other)) && cgiHeaderName(other) === (key ??= cgiHeaderName(name))) {
      outbound.headers = withoutHeaders(headers, (o) => o !== name && o.length === name.length && cgiHeaderName(o) === key)
      break
    }
  }
  outbound.headers[name] = value
}

const MAX_NAME = 32

/**
 * A test, made once, for the header names a CGI-style backend keys as one of `names` (lower-case
 * letters, digits and "-", starting with a letter), `names` themselves excluded: `x_request_id`
 * and `X.Request.Id` for `x-request-id`; and for `exact` names (some of `names`) themselves. It
 * runs over every request's headers, so most names are passed over on their length and first
 * letter (header names are ASCII tokens, whose CGI key keeps both) without folding anything.
 */
export function cgiShadowTest(names: readonly string[], exact: readonly string[] = []): (header: string) => boolean {
  for (const n of names) if (!PLAIN_NAME.test(n) || n.length >= MAX_NAME) throw new TypeError(`cgiShadowTest: "${n}" is not a short lower-case header name of letters, digits and "-"`)
  const keys = new Set(names.map(cgiHeaderName))
  const own = new Set(names)
  const dropped = new Set(exact)
  // By length, a bit per first letter: a shadow has the length and first letter (in any case) of a name.
  const firsts = new Array<number>(MAX_NAME).fill(0)
  for (const n of names) firsts[n.length] = (firsts[n.length] as number) | (1 << (n.charCodeAt(0) - 97))
  return (header) => {
    if (header.length >= MAX_NAME) return false
    const letter = (header.charCodeAt(0) | 0x20) - 97
    if (letter < 0 || letter > 25 || ((firsts[header.length] as number) & (1 << letter)) === 0) return false
    if (own.has(header)) return dropped.has(header)
    return !PLAIN_NAME.test(header) && keys.has(cgiHeaderName(header))
  }
}

/**
 * What the gateway writes over a backend's answer: X-Request-Id (proxy-request.ts) and Via
 * (forwarding-headers.ts), and the headers it edits (Set-Cookie in route mode, the URI headers whose
 * query it scrubs: echoed-fields.ts, route-locations.ts). Beside the gateway's, a backend's
 * `X_Request_Id` or `Set_Cookie` would be the same header to a caller folding `_` and `.` to `-`.
 */
export const SET_ON_ANSWERS: readonly string[] = ['x-request-id', 'via', 'set-cookie', 'location', 'content-location', 'link', 'refresh']

/** A test for the names a CGI-style reader keys as starting with `prefix` (`proxy-`: `Proxy_Authenticate`, `proxy.status`), names spelled with `prefix` itself excluded. */
export function cgiPrefixShadowTest(prefix: string): (header: string) => boolean {
  if (!PLAIN_NAME.test(prefix.slice(0, -1)) || !prefix.endsWith('-')) throw new TypeError(`cgiPrefixShadowTest: "${prefix}" is not a lower-case name prefix ending in "-"`)
  const key = cgiHeaderName(prefix)
  const first = prefix.charCodeAt(0)
  return (header) => header.length > key.length && (header.charCodeAt(0) | 0x20) === first && !header.startsWith(prefix) && cgiHeaderName(header.slice(0, key.length)) === key
}

/**
 * The headers without those `drop` matches, as a filtered copy rather than `delete`s: deleting
 * slows every later reader of the object (undici, node:http; hop-by-hop.ts), on every request.
 */
export function withoutHeaders(headers: OutboundHeaders, drop: (name: string) => boolean): OutboundHeaders {
  const kept: OutboundHeaders = {}
  for (const other in headers) if (!drop(other)) kept[other] = headers[other] as string | string[]
  return kept
}

/** `headers` itself when `drop` matches none of them (the usual case: no copy), else withoutHeaders. */
export function withoutShadows(headers: OutboundHeaders, drop: (name: string) => boolean): OutboundHeaders {
  for (const name in headers) if (drop(name)) return withoutHeaders(headers, drop)
  return headers
}
