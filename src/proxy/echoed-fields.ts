/**
 * A backend that redirects keeps the query it was sent: a trailing-slash or https redirect
 * (`301 Location: …/v1/x/?a=1&api_key=<the endpoint's key>`), a `Content-Location`, a pagination
 * `Link: <…?page=2&api_key=…>; rel="next"`, a login page's `?next=<the whole URL, encoded>`. The
 * query then holds what the gateway added — its query fields (an API key, a PIN, a user's account
 * number) and, with query placement, the OAuth parameters — and the caller, who is never meant to
 * learn them, reads them in the response headers. So these headers lose every query parameter a
 * backend would read as one the gateway sets (the same readings as on the way up,
 * parameter-names.ts), and every parameter holding a value the gateway added to this request's
 * query at any depth of percent-encoding (`next=%2Fx%3Fpin%3D1234`); other bytes stay. Following
 * the redirect through the gateway adds the fields again. (A backend that echoes them in its
 * body is beyond the gateway: do not give such an endpoint secrets in query fields.)
 */
import type { Endpoint } from '../gateway/index.js'
import { parameterMatcher, readsWithPrefix, removeParameters } from './parameter-names.js'
import type { Admitted, OutboundHeaders } from './pipeline.js'

/** The headers whose values are URI references the caller may see. */
const URI_HEADERS = ['location', 'content-location'] as const
/** Shorter added values (`oauth_version=1.0`'s) are no secrets, and would match too much. */
const MIN_ADDED_VALUE = 4
const MAX_DECODES = 4

type Drop = (rawName: string, piece: string) => boolean

/** Per endpoint snapshot: the names its responses' URIs must lose (null: it adds nothing to queries). */
const byName = new WeakMap<Endpoint, ((rawName: string) => boolean) | null>()

function nameDropFor(endpoint: Endpoint): ((rawName: string) => boolean) | undefined {
  let drop = byName.get(endpoint)
  if (drop === undefined) {
    const names = endpoint.fields.filter((f) => f.type === 'query').map((f) => f.key)
    const oauthInQuery = endpoint.profile?.config.placement === 'query'
    const fields = names.length > 0 ? parameterMatcher(names) : undefined
    drop = fields === undefined && !oauthInQuery ? null : (raw: string) => (fields?.(raw) ?? false) || (oauthInQuery && readsWithPrefix(raw, 'oauth_'))
    byName.set(endpoint, drop)
  }
  return drop ?? undefined
}

/** `text` and its percent-decodings ("+" a space), as a client reading a nested URL would see them. */
function decodings(text: string): string[] {
  const forms = [text]
  let s = text
  for (let i = 0; i < MAX_DECODES && s.includes('%'); i++) {
    try {
      const next = decodeURIComponent(s.replace(/\+/g, ' '))
      if (next === s) break
      forms.push((s = next))
    } catch {
      break
    }
  }
  return forms
}

/** The values the gateway added to this request's upstream query: there, and not among the caller's pairs. */
function addedValues(ctx: Admitted): string[] {
  const outbound = ctx.outbound.url.search
  if (outbound.length <= 1) return []
  const sent = new Map<string, number>()
  for (const [k, v] of new URLSearchParams(ctx.inbound.target.query)) sent.set(`${k}=${v}`, (sent.get(`${k}=${v}`) ?? 0) + 1)
  const added: string[] = []
  for (const [k, v] of new URLSearchParams(outbound)) {
    const n = sent.get(`${k}=${v}`) ?? 0
    if (n > 0) sent.set(`${k}=${v}`, n - 1)
    else if (v.length >= MIN_ADDED_VALUE) added.push(v)
  }
  return added
}

/** `text` (a query, or a fragment's parameters) without the pieces `drop` matches. */
function scrubParameters(text: string, drop: Drop): string {
  return removeParameters(text, drop)
}

/**
 * A fragment without the parameters `drop` matches: an SPA route's query (`#/cb?api_key=…`) or
 * fragment parameters (`#state=…&code=…`, as OAuth's implicit flow writes them). The caller reads
 * the fragment in the header as much as the query. A fragment holding no "=" stays as it is.
 */
function fragmentWithoutDropped(fragment: string, drop: Drop): string {
  if (!fragment.includes('=')) return fragment
  const q = fragment.indexOf('?')
  if (q !== -1) {
    const kept = scrubParameters(fragment.slice(q + 1), drop)
    return kept === fragment.slice(q + 1) ? fragment : `${fragment.slice(0, q)}${kept === '' ? '' : `?${kept}`}`
  }
  return scrubParameters(fragment, drop)
}

/** A URI reference without the query (and fragment) parameters `drop` matches; everything else kept. */
export function withoutDropped(uri: string, drop: Drop): string {
  const hash = uri.indexOf('#')
  const beforeHash = hash === -1 ? uri : uri.slice(0, hash)
  const fragment = hash === -1 ? undefined : uri.slice(hash + 1)
  const keptFragment = fragment === undefined ? undefined : fragmentWithoutDropped(fragment, drop)
  const q = beforeHash.indexOf('?')
  let head = beforeHash
  if (q !== -1) {
    const query = beforeHash.slice(q + 1)
    const kept = scrubParameters(query, drop)
    if (kept !== query) head = `${beforeHash.slice(0, q)}${kept === '' ? '' : `?${kept}`}`
  }
  if (head === beforeHash && keptFragment === fragment) return uri
  return keptFragment === undefined ? head : `${head}#${keptFragment}`
}

function scrub(value: string | string[], each: (v: string) => string): string | string[] {
  return Array.isArray(value) ? value.map(each) : each(value)
}

/** Removes the gateway's query additions from the response's Location, Content-Location and Link URIs (in place). */
export function scrubEchoedQueryFields(ctx: Admitted, headers: OutboundHeaders): void {
  const byFieldName = nameDropFor(ctx.endpoint)
  const added = addedValues(ctx)
  if (byFieldName === undefined && added.length === 0) return
  const drop: Drop = (name, piece) => (byFieldName?.(name) ?? false) || (added.length > 0 && decodings(piece).some((form) => added.some((a) => form.includes(a))))
  for (const name of URI_HEADERS) {
    const v = headers[name]
    if (v !== undefined) headers[name] = scrub(v, (u) => withoutDropped(u, drop))
  }
  // Refresh: <seconds>; url=<uri-reference> — a redirect browsers follow, as PHP and CGI scripts send it.
  const refresh = headers.refresh
  if (refresh !== undefined) headers.refresh = scrub(refresh, (r) => r.replace(/(url\s*=\s*["']?)([^"']*)/i, (_, lead: string, uri: string) => `${lead}${withoutDropped(uri, drop)}`))
  const link = headers.link
  // Link: <uri-reference>; params, <…>; … (RFC 8288): each target between angle brackets.
  if (link !== undefined) headers.link = scrub(link, (l) => l.replace(/<([^>]*)>/g, (_, uri: string) => `<${withoutDropped(uri, drop)}>`))
}
