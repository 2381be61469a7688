/**
 * Headers the gateway sets (authorization fields, the OAuth Authorization header): a caller's
 * header that a backend would read as the same name must not travel beside the gateway's.
 * CGI-style backends (PHP, WSGI, Rack, lighttpd's FastCGI) key headers as `HTTP_X_ALPHA_SECRET`:
 * case folded, "-" and "_" alike (RFC 3875 §4.1.18), and lighttpd reads every other character
 * but a letter or digit as "_" too. So `X_Alpha_Secret` or `x-alpha.secret` beside the
 * gateway's `X-Alpha-Secret` could shadow it; they are removed.
 */
import type { Outbound, OutboundHeaders } from './pipeline.js'

/** A header name as CGI-style backends key it. */
export function cgiHeaderName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '_')
}

/** Sets `name` (lower-case) to the gateway's value, removing every caller header that a backend would read as the same name. */
export function setGatewayHeader(outbound: Outbound, name: string, value: string): void {
  const key = cgiHeaderName(name)
  const headers = outbound.headers
  for (const other in headers) {
    // A CGI name keeps the length; most headers differ in it and need no folding.
    if (other !== name && other.length === name.length && cgiHeaderName(other) === key) {
      // A filtered copy rather than `delete`: deleting slows every later reader of the object (hop-by-hop.ts).
      outbound.headers = withoutShadows(headers, name, key)
      break
    }
  }
  outbound.headers[name] = value
}

function withoutShadows(headers: OutboundHeaders, name: string, key: string): OutboundHeaders {
  const kept: OutboundHeaders = {}
  for (const other in headers) {
    if (other === name || other.length !== name.length || cgiHeaderName(other) !== key) kept[other] = headers[other] as string | string[]
  }
  return kept
}
