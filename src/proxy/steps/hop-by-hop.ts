/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded:
 * Connection and every header it names, Proxy-*, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade. Host is set by the upstream client from the URL.
 *
 * Of a request, their other spellings go too, and `Proxy` (httpoxy: isRequestShadow). Of an answer,
 * every other spelling of those names goes too (`Keep_Alive`, `Proxy_Authenticate`,
 * `connection.foo` when Connection names `connection-foo`), and of the names the gateway writes or
 * edits on answers (`X_Request_Id`, `Set_Cookie`: gateway-headers.ts SET_ON_ANSWERS) and of the
 * body's framing (BODY_FRAMING): a caller or front proxy folding `_` and `.` to `-` (CGI and WSGI
 * layers, nginx with underscores_in_headers) would read each as the header the gateway stripped or set.
 * One rule, the CGI key (gateway-headers.ts), made from the same lists the strip uses. The names
 * Connection lists are matched by it both ways (`Connection: x_secret` strips `X-Secret`), read as
 * RFC 9110's list of tokens (connection-options.ts); it never strips the body's representation
 * headers (gateway-headers.ts REPRESENTATION), nor on requests the gateway's request id.
 */
import { connectionOptions } from '../connection-options.js'
import { BODY_FRAMING, REPRESENTATION, SET_ON_ANSWERS, cgiHeaderName, cgiPrefixShadowTest, cgiShadowTest, withoutHeaders } from '../gateway-headers.js'
import type { OutboundHeaders, ResponseStep, Step } from '../pipeline.js'

// `expect` too: the gateway answers 100-continue itself (the caller's connection), and
// undici refuses the header outright.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect'])

/**
 * The headers without the hop-by-hop ones, including those the Connection header names (`response`: Alt-Svc too).
 * A filtered copy rather than `delete`s: deleting turns the object into a slow dictionary
 * for everything that reads it afterwards (undici, node:http), on every request.
 */
export function withoutHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>, response = false): OutboundHeaders {
  return keptWithout(headers, namedByConnection(headers, KEPT_ON_ANSWERS), response)
}

/**
 * A backend's Alt-Svc (RFC 7838) names another way to reach it (HTTP/3 to its host, or to "this"
 * host, which for a route-mode caller is the gateway's): the gateway is the caller's only way to
 * the backend, so a caller honouring it would go around the gateway, or try a protocol the
 * gateway does not speak. Not relayed, as hop-by-hop headers are not.
 */
const NOT_RELAYED = 'alt-svc'

/** The other spellings of every name an answer loses or gets from the gateway (module comment); built once, it runs over every answer's headers. */
const isAnswerShadow = cgiShadowTest([...HOP_BY_HOP, NOT_RELAYED, ...BODY_FRAMING, ...SET_ON_ANSWERS])
const isProxyShadow = cgiPrefixShadowTest('proxy-')

/** True for an answer's header that is not relayed beyond the hop-by-hop ones: Alt-Svc and the other spellings of every stripped or gateway-set name. */
function isDroppedFromAnswer(name: string): boolean {
  return name === NOT_RELAYED || isAnswerShadow(name) || isProxyShadow(name)
}

/**
 * Of a request, `Proxy` and the other spellings of the hop-by-hop names and of Proxy-* (`Proxy_Authorization`,
 * `keep.alive`), which a CGI-style backend keys as the headers stripped. `Proxy` is no header of HTTP's,
 * but such a backend reads it as HTTP_PROXY, the proxy its own outgoing calls then take ("httpoxy",
 * CVE-2016-5385): a caller would pick where the backend sends its requests.
 */
const isRequestShadow = cgiShadowTest([...HOP_BY_HOP, 'proxy'], ['proxy'])

function isDroppedFromRequest(name: string): boolean {
  return isRequestShadow(name) || isProxyShadow(name)
}

/** A copy without the hop-by-hop headers, given the keys of the names Connection lists, and without isDroppedFromAnswer's or isDroppedFromRequest's. */
function keptWithout(headers: Readonly<Record<string, string | string[] | undefined>>, named: ReadonlySet<string> | undefined, response = false): OutboundHeaders {
  const dropped = response ? isDroppedFromAnswer : isDroppedFromRequest
  const kept: OutboundHeaders = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || isHopByHop(name, named) || dropped(name)) continue
    kept[name] = value
  }
  return kept
}

/**
 * The listener's outbound copy of the inbound headers, without the fixed hop-by-hop names
 * (Connection itself included). Proxy-* and the names Connection lists stay for the strip
 * step, which removes them with every copy of the caller's credential.
 */
export function outboundCopy(headers: Readonly<Record<string, string | string[] | undefined>>): OutboundHeaders {
  const kept: OutboundHeaders = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    kept[name] = value
  }
  return kept
}

/** The CGI keys of the names a Connection header lists, `kept`'s left out (no set unless it lists something). */
function namedByConnection(headers: Readonly<Record<string, string | string[] | undefined>>, kept: ReadonlySet<string>): ReadonlySet<string> | undefined {
  const connection = headers.connection
  if (connection === undefined) return undefined
  // The usual values name nothing but themselves (already hop-by-hop): no split per response, and
  // as Node's clients and servers spell them, not even the pattern.
  if (connection === 'keep-alive' || connection === 'close' || (typeof connection === 'string' && KEEP_OR_CLOSE.test(connection))) return undefined
  const keys = new Set<string>()
  for (const option of connectionOptions(connection)) {
    const key = cgiHeaderName(option)
    if (!kept.has(key)) keys.add(key)
  }
  return keys.size === 0 ? undefined : keys
}

const KEEP_OR_CLOSE = /^[ \t]*(keep-alive|close)[ \t]*$/i

function isHopByHop(name: string, named: ReadonlySet<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (named !== undefined && named.has(cgiHeaderName(name)))
}

/** The keys a backend's Connection header cannot strip from its answer: the body's representation. */
const KEPT_ON_ANSWERS: ReadonlySet<string> = new Set(REPRESENTATION.map(cgiHeaderName))

/**
 * Headers a caller's Connection header may not name (it names its own extension headers), in any
 * spelling: the request id the gateway set before this step (`Connection: x-request-id` kept it
 * from the backend while the caller still got it back), and the body's representation, which the
 * steps after this one judge the body by (without its Content-Type, a body some backends read as
 * a form would pass unjudged), as on answers.
 */
const KEPT_ON_REQUESTS: ReadonlySet<string> = new Set(['x-request-id', ...REPRESENTATION].map(cgiHeaderName))

export const stripRequestHopByHop: Step = {
  name: 'strip_hop_by_hop',
  run(ctx) {
    // Connection is read from the inbound headers (the outbound copy no longer carries it).
    const named = namedByConnection(ctx.inbound.headers, KEPT_ON_REQUESTS)
    const h = ctx.outbound.headers
    for (const name in h) {
      // Only now a copy: most requests reach this step with nothing left to strip.
      if (isHopByHop(name, named) || isDroppedFromRequest(name)) return void (ctx.outbound.headers = keptWithout(h, named))
    }
  },
}

/**
 * A Content-Length as one decimal without leading zeros or trailing whitespace. undici's parser reads
 * `010` as 10 and keeps a trailing space; relayed as written, a caller whose parser reads leading zeros
 * otherwise (or refuses them) would frame the body differently from the gateway. `10, 10` and two
 * lines never get here: the parser refuses them (a 502 naming it).
 */
function canonicalLength(value: string): string {
  // The parser let only digits and spaces through (leading ones dropped): two character reads settle the usual case.
  const last = value.charCodeAt(value.length - 1)
  if ((value.charCodeAt(0) !== 48 || value.length === 1) && last >= 48 && last <= 57) return value
  return value.trim().replace(/^0+(?=\d)/, '')
}

export const stripResponseHopByHop: ResponseStep = {
  name: 'strip_hop_by_hop',
  run(_ctx, res) {
    const kept = withoutHopByHop(res.headers, true)
    const length = kept['content-length']
    if (typeof length === 'string') kept['content-length'] = canonicalLength(length)
    // RFC 9110 §8.6: a 204 never carries Content-Length; relayed, a backend's would tell the caller
    // to wait for content that never comes (a 304's may stay: it names its representation's length).
    res.headers = res.status === 204 && kept['content-length'] !== undefined ? withoutHeaders(kept, (name) => name === 'content-length') : kept
  },
}
