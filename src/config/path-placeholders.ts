/**
 * `{{key}}` path-field placeholders of a configured path (an endpoint URL's path, `pathPrefix`):
 * what the gateway fills per request (gateway/destination.ts) and what load checks a path field
 * has somewhere to go.
 */
import type { EndpointConfig, FieldConfig, ProfileConfig } from './types.js'
import type { Report } from './normalize-util.js'

// `{{key}}` as configured, `%7B%7Bkey%7D%7D` as a URL serialises it (hex in either case).
export const PLACEHOLDER = String.raw`\{\{[^}/]*\}\}|%7B%7B(?:(?!%7D)[^/])*%7D%7D`
export const PLACEHOLDER_KEY = new RegExp(String.raw`\{\{([^}/]*)\}\}|%7B%7B((?:(?!%7D)[^/])*)%7D%7D`, 'gi')

/** The key a placeholder names, from its captures: as configured, or percent-decoded from the URL's spelling. */
export function placeholderKey(braced: string | undefined, encoded: string | undefined): string {
  if (braced !== undefined) return braced
  try {
    return decodeURIComponent(encoded ?? '')
  } catch {
    return encoded ?? ''
  }
}

/** The placeholder keys of an endpoint's URL path and `pathPrefix`: the only places a path field is filled. */
function endpointPlaceholderKeys(e: EndpointConfig): Set<string> {
  let urlPath = ''
  try {
    urlPath = new URL(e.url.replaceAll('{tenant}', 'tenant')).pathname
  } catch {
    // reported with the URL
  }
  return new Set([...`${urlPath}/${e.pathPrefix ?? ''}`.matchAll(PLACEHOLDER_KEY)].map((m) => placeholderKey(m[1], m[2])))
}

/**
 * Reports each path field no endpoint applying it has a placeholder for: it would be dropped
 * from every request, silently. An endpoint's own fields; a profile's, by its endpoints.
 */
export function checkPathFields(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  const check = (fields: readonly FieldConfig[], at: (string | number)[], applying: readonly EndpointConfig[]): void => {
    if (applying.length === 0) return
    fields.forEach((f, i) => {
      if (f.type !== 'path' || applying.some((e) => endpointPlaceholderKeys(e).has(f.key))) return
      const where = applying.map((e) => `endpoints[${e.index}].url's path or pathPrefix`).join(', ')
      report([...at, 'fields', i, 'key'], `no {{${f.key}}} placeholder in ${where}: the field would never be placed`)
    })
  }
  for (const e of endpoints) check(e.fields, ['endpoints', e.index], [e])
  for (const p of profiles) check(p.fields, ['profiles', p.index], endpoints.filter((e) => e.profile === p.name))
}
