/**
 * A profile's URLs filled for one authorization: `{tenant}`, `{{user}}` and
 * `{{fields.NAME}}` (additional fields, then the user's own fields) by the URL template
 * rules, so the token calls are signed over, and the browser sent to, the filled URL. A filled
 * URL gets the proxied request's outbound check: on the configured origin, and no gateway bearer
 * in it (a tenant, a user or a field holding one is refused, 400 credential_in_target).
 */
import { fillUrlTemplate, parseUrlTemplate, PROFILE_URL_KEYS, type ProfileConfig, type UrlScope } from '../config/index.js'
import { GatewayError, type ConfigProblem } from '../errors.js'
import { judgeOutboundUrl, NO_CREDENTIALS } from '../callers/index.js'
import { encodeRawCharacters, unverifiableOctets } from '../oauth1/index.js'
import type { Profile } from './profiles.js'

/** Which profile URL. */
export type ProfileUrlKey = (typeof PROFILE_URL_KEYS)[number]

/** Who the URL is filled for. */
export interface DanceScope {
  tenant?: string
  user?: string
  /** The user's fields collected at authorize time (a PIN); they win over additionalFields. */
  fields?: Readonly<Record<string, string>>
}

/** The filled URL, and `shown` (only the tenant filled) for messages; undefined when not configured. */
export function fillProfileUrl(profile: Profile, which: ProfileUrlKey, scope: DanceScope): { url: string; shown: string } | undefined {
  const source = profile.config[which]
  if (source === undefined) return undefined
  // Object.fromEntries, not Object.assign: assigning a field named `__proto__` sets the prototype instead.
  const values: UrlScope = { fields: Object.fromEntries([...Object.entries(profile.config.additionalFields ?? {}), ...Object.entries(scope.fields ?? {})]) }
  if (scope.tenant !== undefined) values.tenant = scope.tenant
  if (scope.user !== undefined) values.user = scope.user
  const filled = fillUrlTemplate(parseUrlTemplate(source), values)
  const where = `profile "${profile.name}": ${which}`
  if ('missing' in filled) {
    if (filled.missing === 'tenant') throw new GatewayError('tenant_invalid', `${where} contains {tenant}, so a tenant is needed`)
    throw new GatewayError('bad_request', `${where} needs ${filled.missing}, which this authorization does not provide`)
  }
  if ('refused' in filled) throw new GatewayError('bad_request', `${where}: ${filled.refused}`)
  const url = withQueryEncoded(filled.url)
  // The check a proxied request's URL gets (callers' judgeOutboundUrl): the origin is the config's with
  // only the tenant placed (`shown` holds no other value), and no gateway bearer went in with a value.
  judgeOutboundUrl({ origin: originOf(url), href: url }, originOf(filled.shown), NO_CREDENTIALS, `profile "${profile.name}": the ${which} filled for this authorization`)
  return { url, shown: filled.shown }
}

/** A filled URL's origin; a URL that does not parse is the fill's bug, never a caller's doing. */
function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch (err) {
    throw new GatewayError('internal', 'internal error', { cause: err })
  }
}

/**
 * `url` with its query's raw characters that RFC 3986 does not allow unencoded (`[`, `|`, a
 * space…) percent-encoded, escapes kept: what the proxy does to a signed query (oauth1's
 * encodeRawCharacters), so python-oauthlib reads the token calls' queries at all.
 */
function withQueryEncoded(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const hash = url.indexOf('#', q)
  const end = hash < 0 ? url.length : hash
  const query = Buffer.from(url.slice(q + 1, end), 'utf8')
  const encoded = encodeRawCharacters(query)
  return encoded === query ? url : url.slice(0, q + 1) + encoded.toString('utf8') + url.slice(end)
}

/**
 * A profile URL whose query verifiers would read differently however it is sent (a percent-escape
 * whose octets are not UTF-8, like `%E9`; a "%" not before two hex digits): refused at load,
 * at its key, as the proxy refuses such a signed query. Placeholders count as plain text.
 */
export function profileUrlProblems(p: ProfileConfig, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const key of PROFILE_URL_KEYS) {
    const source = p[key]
    if (source === undefined) continue
    const search = literalSearch(source)
    const found = search === undefined || search.length <= 1 ? undefined : unverifiableOctets(Buffer.from(search.slice(1), 'latin1'))
    if (found !== undefined) problems.push({ file, line: 0, column: 0, key: `profiles[${p.index}].${key}`, msg: `profile "${p.name}": the query has ${found.what}, so no OAuth 1.0a verifier reads it as written: ${found.fix}` })
  }
  return problems
}

/** The query of `source` as the signer parses it (WHATWG URL), each placeholder filled with a letter; undefined when it is no URL (the load said why). */
function literalSearch(source: string): string | undefined {
  try {
    const t = parseUrlTemplate(source)
    const filled = fillUrlTemplate(t, { tenant: 'x', user: 'x', fields: Object.fromEntries(t.fieldNames.map((n) => [n, 'x'])) })
    return 'url' in filled ? new URL(filled.url).search : undefined
  } catch {
    return undefined
  }
}
