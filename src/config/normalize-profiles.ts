/** Profiles and authorization fields: defaults and the rules between their keys. */
import { parseTemplate } from './template.js'
import { list, obj, str, type Raw, type Report } from './normalize-util.js'
import type { FieldConfig, ProfileConfig } from './types.js'

/** What `check` and the log say of a profile with legacyOAuth10 on: the operator chose it, so never an error. */
export const LEGACY_OAUTH10_RISK =
  'accepts an OAuth Core 1.0 provider (no oauth_callback_confirmed, no oauth_verifier): its dance is open to session fixation, so one user may be given an access token another person approved at the provider'

/** Field entries; templates parsed now so bad placeholders are load errors. */
export function normalizeFields(v: unknown, report: Report): FieldConfig[] {
  const out = (Array.isArray(v) ? v : []).map((f) => obj(f) as unknown as FieldConfig)
  out.forEach((f, i) => {
    try {
      parseTemplate(f.value)
    } catch (e) {
      report([i, 'value'], (e as Error).message)
    }
    if (f.type === 'header' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(f.key)) report([i, 'key'], 'not a valid header name')
  })
  return out
}

/** One profile with defaults; reports missing keys its signature method or token mode needs. */
export function normalizeProfile(p: Raw, index: number, abs: (p: string) => string, report: Report): ProfileConfig {
  const method = (str(p.signatureMethod) ?? 'HMAC-SHA1') as ProfileConfig['signatureMethod']
  const token = obj(p.token)
  const mode = (str(token.mode) ?? 'none') as ProfileConfig['token']['mode']
  if (method.startsWith('RSA-') && p.privateKey === undefined) report(['privateKey'], `is required for ${method}`)
  if (!method.startsWith('RSA-') && p.consumerSecret === undefined) report(['consumerSecret'], `is required for ${method}`)
  if (mode === 'static' && (token.token === undefined || token.tokenSecret === undefined)) report(['token'], 'mode static needs token and tokenSecret')
  if (mode === 'per_user') {
    // callbackUrl may be left out: listen.publicUrl or the request names the gateway.
    for (const k of ['requestTokenUrl', 'accessTokenUrl', 'authorizeUrl']) if (p[k] === undefined) report([k], 'is required with token mode per_user')
  }
  return {
    name: str(p.name) ?? '',
    index,
    ...(str(p.provider) !== undefined ? { provider: str(p.provider) as string } : {}),
    consumerKey: str(p.consumerKey) ?? '',
    consumerSecret: str(p.consumerSecret) ?? '',
    signatureMethod: method,
    ...(str(p.privateKey) !== undefined ? { privateKey: abs(str(p.privateKey) as string) } : {}),
    ...(str(p.privateKeyPassphrase) !== undefined ? { privateKeyPassphrase: str(p.privateKeyPassphrase) as string } : {}),
    ...Object.fromEntries(['requestTokenUrl', 'accessTokenUrl', 'authorizeUrl', 'callbackUrl', 'realm', 'endpoint'].filter((k) => str(p[k]) !== undefined).map((k) => [k, str(p[k])])),
    tenancy: (p.tenancy as boolean | undefined) ?? false,
    version: (p.version as boolean | undefined) ?? true,
    bodyHash: (p.bodyHash as boolean | undefined) ?? false,
    placement: (str(p.placement) ?? 'header') as ProfileConfig['placement'],
    legacyOAuth10: (p.legacyOAuth10 as boolean | undefined) ?? false,
    tokenUrlsOnEndpointServer: (p.tokenUrlsOnEndpointServer as boolean | undefined) ?? false,
    tokenUrlEndpoints: list(p.tokenUrlEndpoints),
    token: { mode, ...(str(token.token) !== undefined ? { token: str(token.token) as string } : {}), ...(str(token.tokenSecret) !== undefined ? { tokenSecret: str(token.tokenSecret) as string } : {}) },
    additionalFields: { ...(obj(p.additionalFields) as Record<string, string>) },
    userFields: [...new Set(list(p.userFields))],
    fields: normalizeFields(p.fields, (path, msg) => report(['fields', ...path], msg)),
  }
}

