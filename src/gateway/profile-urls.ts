/**
 * A profile's URLs filled for one authorization: `{tenant}`, `{{user}}` and
 * `{{fields.NAME}}` (additional fields, then the user's own fields) by the URL template
 * rules, so the token calls are signed over, and the browser sent to, the filled URL.
 */
import { fillUrlTemplate, parseUrlTemplate, type PROFILE_URL_KEYS, type UrlScope } from '../config/index.js'
import { GatewayError } from '../errors.js'
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
  return filled
}
