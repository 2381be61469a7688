/**
 * A backend that redirects keeps the query it was sent: a trailing-slash or https redirect
 * (`301 Location: …/v1/x/?a=1&api_key=<the endpoint's key>`), a `Content-Location`, a pagination
 * `Link: <…?page=2&api_key=…>; rel="next"`. The query then holds what the gateway added — its
 * query fields (an API key, a user's account number) and, with query placement, the OAuth
 * parameters — and the caller, who is never meant to learn them, reads them in the response
 * headers. So these headers lose every query parameter a backend would read as one the gateway
 * sets (the same readings as on the way up, parameter-names.ts); other bytes stay. Following
 * the redirect through the gateway adds the fields again. (A backend that echoes them in its
 * body is beyond the gateway: do not give such an endpoint secrets in query fields.)
 */
import type { Endpoint } from '../gateway/index.js'
import { parameterMatcher, readsWithPrefix, removeParameters } from './parameter-names.js'
import type { OutboundHeaders } from './pipeline.js'

/** The headers whose values are URI references the caller may see. */
const URI_HEADERS = ['location', 'content-location'] as const

type Drop = (rawName: string) => boolean

/** Per endpoint snapshot: what its responses' URIs must lose (undefined: nothing is added to its queries). */
const drops = new WeakMap<Endpoint, Drop | null>()

function dropFor(endpoint: Endpoint): Drop | undefined {
  let drop = drops.get(endpoint)
  if (drop === undefined) {
    const names = endpoint.fields.filter((f) => f.type === 'query').map((f) => f.key)
    const oauthInQuery = endpoint.profile?.config.placement === 'query'
    const fields = names.length > 0 ? parameterMatcher(names) : undefined
    drop = fields === undefined && !oauthInQuery ? null : (raw: string) => (fields?.(raw) ?? false) || (oauthInQuery && readsWithPrefix(raw, 'oauth_'))
    drops.set(endpoint, drop)
  }
  return drop ?? undefined
}

/** A URI reference without the query parameters `drop` matches (fragment and everything else kept). */
export function withoutDropped(uri: string, drop: Drop): string {
  const q = uri.indexOf('?')
  if (q === -1) return uri
  const hash = uri.indexOf('#', q)
  const query = hash === -1 ? uri.slice(q + 1) : uri.slice(q + 1, hash)
  const kept = removeParameters(query, drop)
  if (kept === query) return uri
  return `${uri.slice(0, q)}${kept === '' ? '' : `?${kept}`}${hash === -1 ? '' : uri.slice(hash)}`
}

function scrub(value: string | string[], each: (v: string) => string): string | string[] {
  return Array.isArray(value) ? value.map(each) : each(value)
}

/** Removes the gateway's query additions from the response's Location, Content-Location and Link URIs (in place). */
export function scrubEchoedQueryFields(endpoint: Endpoint, headers: OutboundHeaders): void {
  const drop = dropFor(endpoint)
  if (drop === undefined) return
  for (const name of URI_HEADERS) {
    const v = headers[name]
    if (v !== undefined) headers[name] = scrub(v, (u) => withoutDropped(u, drop))
  }
  const link = headers.link
  // Link: <uri-reference>; params, <…>; … (RFC 8288): each target between angle brackets.
  if (link !== undefined) headers.link = scrub(link, (l) => l.replace(/<([^>]*)>/g, (_, uri: string) => `<${withoutDropped(uri, drop)}>`))
}
