/** The normalised config of OAuth 1.0a profiles and the authorization fields they and endpoints apply (part of types.ts). */

export type FieldType = 'header' | 'payload' | 'query' | 'path'

export interface FieldConfig {
  type: FieldType
  key: string
  value: string
}

export type SignatureMethod = 'HMAC-SHA1' | 'HMAC-SHA256' | 'HMAC-SHA512' | 'RSA-SHA1' | 'RSA-SHA256' | 'PLAINTEXT'
export type OAuthPlacement = 'header' | 'query' | 'body'
export type TokenMode = 'none' | 'static' | 'per_user'

export interface ProfileConfig {
  name: string
  index: number
  provider?: string
  consumerKey: string
  consumerSecret: string
  signatureMethod: SignatureMethod
  privateKey?: string
  privateKeyPassphrase?: string
  requestTokenUrl?: string
  accessTokenUrl?: string
  authorizeUrl?: string
  callbackUrl?: string
  /** Endpoint whose mTLS pool calls the token URLs (default: the first endpoint naming the profile). */
  endpoint?: string
  /** The token URLs' hosts are the endpoint's own server: dialled with its resolve, serverName and pins. */
  tokenUrlsOnEndpointServer: boolean
  /** For a token URL whose origin several endpoints share: the one it is called over (default: the first in config order). */
  tokenUrlEndpoints: string[]
  /** Fields each user supplies at the authorize step (e.g. a PIN). */
  userFields: string[]
  realm?: string
  tenancy: boolean
  version: boolean
  bodyHash: boolean
  placement: OAuthPlacement
  /** The provider speaks OAuth Core 1.0: no oauth_callback_confirmed, no oauth_verifier (open to session fixation). */
  legacyOAuth10: boolean
  token: { mode: TokenMode; token?: string; tokenSecret?: string }
  additionalFields: Record<string, string>
  fields: FieldConfig[]
}
