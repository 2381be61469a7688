/**
 * What a dance's request token belongs to: the consumer and the provider's addresses it was
 * obtained with. A reload may change them while the user is at the provider; the callback then
 * must not send the old consumer's request token and the user's approval to the new addresses,
 * nor store what they answer as the new consumer's token.
 */
import { createHash } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { Gateway, Profile } from '../gateway/index.js'
import { profileEndpoint } from './provider.js'

/**
 * A digest of the profile's consumer key, token and authorize URLs (as configured, templates
 * unfilled) and the endpoint whose mTLS client calls them. Not the consumer secret or RSA key: a
 * rotated secret of the same consumer is the same consumer, and its dances go on.
 */
export function danceSettings(gateway: Gateway, profile: Profile): string {
  const p = profile.config
  // tokenUrlsOnEndpointServer moves the token calls to other addresses; added only when on, so the digest of a dance started before the key existed is unchanged.
  const parts = [p.consumerKey, p.requestTokenUrl, p.accessTokenUrl, p.authorizeUrl, endpointName(gateway, profile), ...(p.tokenUrlsOnEndpointServer ? ['on endpoint server'] : [])]
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url')
}

/** The endpoint calling the profile's token URLs; none (a reload left it without one) is a setting of its own, never a start's. */
function endpointName(gateway: Gateway, profile: Profile): string | null {
  try {
    return profileEndpoint(gateway, profile).name
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    return null
  }
}
