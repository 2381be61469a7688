/**
 * The Profiles page's data: each OAuth 1.0a profile as an operator reads it, every secret
 * replaced by a mask (consumer secret, static token and secret, key passphrase, field
 * values, additional fields). Only names, URLs and settings leave the process.
 */
import type { ProfileConfig } from '../config/index.js'
import type { Gateway } from '../gateway/index.js'

export const MASK = '••••••'

/** One profile, secrets masked: its settings and URLs as configured, every secret a mask. */
export type ProfileView = Pick<ProfileConfig, 'name' | 'provider' | 'consumerKey' | 'signatureMethod' | 'placement' | 'tenancy' | 'legacyOAuth10' | 'requestTokenUrl' | 'accessTokenUrl' | 'authorizeUrl' | 'callbackUrl' | 'endpoint' | 'userFields'> & {
  consumerSecret: string
  tokenMode: string
  fields: { type: string; key: string; value: string }[]
  additionalFields: { key: string; value: string }[]
}

/** Every profile of the snapshot. */
export function profileViews(gateway: Gateway): ProfileView[] {
  return [...gateway.profiles.values()].map(({ config: c }) => ({
    name: c.name,
    ...(c.provider !== undefined ? { provider: c.provider } : {}),
    consumerKey: c.consumerKey,
    consumerSecret: MASK,
    signatureMethod: c.signatureMethod,
    placement: c.placement,
    legacyOAuth10: c.legacyOAuth10,
    tenancy: c.tenancy || [...gateway.endpoints.values()].some((e) => e.profile?.name === c.name && e.tenancy),
    tokenMode: c.token.mode,
    ...(c.requestTokenUrl !== undefined ? { requestTokenUrl: c.requestTokenUrl } : {}),
    ...(c.accessTokenUrl !== undefined ? { accessTokenUrl: c.accessTokenUrl } : {}),
    ...(c.authorizeUrl !== undefined ? { authorizeUrl: c.authorizeUrl } : {}),
    ...(c.callbackUrl !== undefined ? { callbackUrl: c.callbackUrl } : {}),
    ...(c.endpoint !== undefined ? { endpoint: c.endpoint } : {}),
    userFields: [...c.userFields],
    fields: c.fields.map((f) => ({ type: f.type, key: f.key, value: MASK })),
    additionalFields: Object.keys(c.additionalFields).map((key) => ({ key, value: MASK })),
  }))
}
