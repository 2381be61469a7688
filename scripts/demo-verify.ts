/**
 * The demo partner's OAuth 1.0a check, written from RFC 5849 §3.4 without src/oauth1, so the
 * demo's "signature verified" is not the gateway's signer agreeing with itself. HMAC-SHA1 only
 * (what the demo profiles use); anything else is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** RFC 3986 unreserved characters stay, everything else is %XX (RFC 5849 §3.6). */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** name=value pairs of a query or form string, percent-decoded; `plusIsSpace` for forms. */
function pairs(text: string, plusIsSpace: boolean): [string, string][] {
  if (text === '') return []
  const decode = (s: string): string => decodeURIComponent(plusIsSpace ? s.replace(/\+/g, ' ') : s)
  return text.split('&').map((part) => {
    const at = part.indexOf('=')
    return at < 0 ? [decode(part), ''] : [decode(part.slice(0, at)), decode(part.slice(at + 1))]
  })
}

/** The parameters of an `Authorization: OAuth …` header (realm included; the caller drops it). */
export function authorizationParams(header: string): Record<string, string> {
  const params: Record<string, string> = {}
  for (const m of header.replace(/^OAuth\s+/i, '').matchAll(/([A-Za-z0-9_.~%-]+)="([^"]*)"/g)) params[decodeURIComponent(m[1] as string)] = decodeURIComponent(m[2] as string)
  return params
}

export interface ReceivedRequest {
  method: string
  /** Absolute URL as received: https://host[:port]/path?query */
  url: string
  /** The form body when the content type is application/x-www-form-urlencoded, else ''. */
  form: string
  authorization: string
}

/** True when the request's HMAC-SHA1 signature matches the secrets. */
export function verifyHmacSha1(req: ReceivedRequest, consumerSecret: string, tokenSecret = ''): boolean {
  const oauth = authorizationParams(req.authorization)
  if (oauth.oauth_signature_method !== 'HMAC-SHA1' || oauth.oauth_signature === undefined) return false
  const url = new URL(req.url)
  const defaultPort = url.port === '' || (url.protocol === 'https:' && url.port === '443') || (url.protocol === 'http:' && url.port === '80')
  const baseUri = `${url.protocol}//${url.hostname.toLowerCase()}${defaultPort ? '' : `:${url.port}`}${url.pathname}`
  const signed = Object.entries(oauth).filter(([k]) => k !== 'oauth_signature' && k !== 'realm')
  const all = [...pairs(url.search.slice(1), false), ...pairs(req.form, true), ...signed]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
  const base = [req.method.toUpperCase(), encode(baseUri), encode(all.map(([k, v]) => `${k}=${v}`).join('&'))].join('&')
  const expected = createHmac('sha1', `${encode(consumerSecret)}&${encode(tokenSecret)}`).update(base).digest()
  const given = Buffer.from(oauth.oauth_signature, 'base64')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
