/**
 * RFC 5849 §3.4.1: the signature base string — method, base string URI and normalized
 * parameters, each percent-encoded and joined by `&`.
 */
import { formDecode, isFormContentType, parseForm, percentEncode, type Param } from './percent-encode.js'

/** Where §3.4.1.3.1 collects parameters from. */
export interface ParameterSources {
  /** The request URI; its query component is parsed as form-encoded. */
  readonly url: URL | string
  /** Protocol parameters (those sent in the Authorization header, query or body), decoded. */
  readonly oauthParams?: Readonly<Record<string, string>>
  /** The request Content-Type; the body counts only when it is application/x-www-form-urlencoded. */
  readonly contentType?: string
  readonly body?: Buffer | string
}

function toUrl(url: URL | string): URL {
  const u = typeof url === 'string' ? new URL(url) : url
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TypeError(`OAuth 1.0 signs http and https requests only, not "${u.protocol}"`)
  }
  return u
}

/**
 * §3.4.1.2 base string URI: scheme and host lowercased, default port (80/443) dropped, other
 * ports kept, no query or fragment, empty path as `/`. The path is the WHATWG-serialised one,
 * i.e. exactly what an HTTP client built on `URL` puts on the request line, so the server
 * reconstructs the same string.
 */
export function baseStringUri(url: URL | string): string {
  const u = toUrl(url)
  // WHATWG URL already lowercases scheme and host, drops the scheme's default port and
  // turns an empty http(s) path into "/"; userinfo is not part of the Host header, so it goes.
  return `${u.protocol}//${u.host}${u.pathname}`
}

/**
 * §3.4.1.3.1: query parameters, then protocol parameters, then form-body parameters, decoded,
 * in that order, duplicates and empty values kept. `oauth_signature` is dropped from every
 * source; `realm` only from the protocol parameters (it is a header attribute, while a query
 * or body field that happens to be named `realm` is an ordinary, signed parameter).
 */
export function collectParameters(sources: ParameterSources): Param[] {
  const u = toUrl(sources.url)
  const params: Param[] = parseForm(u.search.slice(1))
  for (const [name, value] of Object.entries(sources.oauthParams ?? {})) {
    if (name !== 'realm') params.push([name, value])
  }
  if (sources.body !== undefined && isFormContentType(sources.contentType)) {
    const text = typeof sources.body === 'string' ? sources.body : sources.body.toString('utf8')
    params.push(...parseForm(text))
  }
  return params.filter(([name]) => name !== 'oauth_signature')
}

function compareAscii(a: string, b: string): number {
  // Encoded strings are pure ASCII, so UTF-16 code-unit order is the byte order §3.4.1.3.2 asks for.
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * §3.4.1.3.2 on already-encoded pairs, and the result encoded once more for the base string:
 * the encoded strings hold only unreserved characters and `%XX`, so encoding `name=value&…`
 * again turns exactly `%`, `=` and `&` into `%25`, `%3D` and `%26` — what percentEncode of the
 * joined string gives, without building it and scanning it again.
 */
export function encodedNormalizedParameters(names: string[], values: string[]): string {
  const order = parameterOrder(names, values)
  let out = ''
  for (let i = 0; i < order.length; i++) {
    const k = order[i] as number
    const name = names[k] as string
    const value = values[k] as string
    if (i !== 0) out += '%26'
    out += name.includes('%') ? name.replaceAll('%', '%25') : name
    out += '%3D'
    out += value.includes('%') ? value.replaceAll('%', '%25') : value
  }
  return out
}

/** The encoded pairs' positions in §3.4.1.3.2 order (byte order of name, then value; equal pairs as they came). */
export function parameterOrder(names: readonly string[], values: readonly string[]): number[] {
  return names.length > 24 ? sortedOrder(names, values) : insertionOrder(names, values)
}

/** The pairs' positions in §3.4.1.3.2 order: sort(), for many pairs. */
function sortedOrder(names: readonly string[], values: readonly string[]): number[] {
  return names.map((_, i) => i).sort((a, b) => compareAscii(names[a] as string, names[b] as string) || compareAscii(values[a] as string, values[b] as string))
}

/**
 * The same order by a stable insertion sort, for the handful of pairs a request has: no sort()
 * setup and no comparator call per comparison.
 */
function insertionOrder(names: readonly string[], values: readonly string[]): number[] {
  const order: number[] = []
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string
    const value = values[i] as string
    let j = i - 1
    for (; j >= 0; j--) {
      const k = order[j] as number
      const other = names[k] as string
      // Encoded strings are ASCII: UTF-16 order is byte order. Equal pairs keep their order.
      if (other < name || (other === name && (values[k] as string) <= value)) break
      order[j + 1] = k
    }
    order[j + 1] = i
  }
  return order
}

const UNRESERVED = /^[A-Za-z0-9._~-]*$/

/**
 * §3.4.1.3.1 for a query string or form body: each pair decoded, `oauth_signature` dropped,
 * then encoded (§3.4.1.3.2) onto `names` and `values`. A raw name or value of unreserved
 * characters only decodes and encodes to itself, so most skip both.
 */
export function addFormParameters(text: string, names: string[], values: string[]): void {
  for (const part of text.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const rawName = eq === -1 ? part : part.slice(0, eq)
    const rawValue = eq === -1 ? '' : part.slice(eq + 1)
    const plainName = UNRESERVED.test(rawName)
    const name = plainName ? rawName : formDecode(rawName)
    if (name === 'oauth_signature') continue
    names.push(plainName ? rawName : percentEncode(name))
    values.push(UNRESERVED.test(rawValue) ? rawValue : percentEncode(formDecode(rawValue)))
  }
}

/**
 * §3.4.1.3.2: encode names and values, sort by encoded name then encoded value (byte order),
 * join as `name=value` pairs with `&`. Duplicates and empty values stay.
 */
export function normalizeParameters(pairs: Iterable<Param>): string {
  const encoded: [string, string][] = []
  for (const [name, value] of pairs) encoded.push([percentEncode(name), percentEncode(value)])
  encoded.sort((a, b) => compareAscii(a[0], b[0]) || compareAscii(a[1], b[1]))
  return encoded.map(([name, value]) => `${name}=${value}`).join('&')
}

/** §3.4.1.1: `METHOD&enc(base string URI)&enc(normalized parameters)`, method uppercased. */
export function signatureBaseString(method: string, url: URL | string, params: Iterable<Param>): string {
  return [
    percentEncode(method.toUpperCase()),
    percentEncode(baseStringUri(url)),
    percentEncode(normalizeParameters(params)),
  ].join('&')
}
