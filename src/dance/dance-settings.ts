/**
 * What a dance's request token belongs to: the consumer and the provider's addresses it was
 * obtained with. A reload may change them while the user is at the provider; the callback then
 * must not send the old consumer's request token and the user's approval to the new addresses,
 * nor store what they answer as the new consumer's token.
 */
import { createHash } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { fillProfileUrl, type DanceScope, type Gateway, type Profile } from '../gateway/index.js'
import { profileEndpoint, tokenEndpoint } from './provider.js'

/**
 * A digest of the profile's consumer key, token and authorize URLs (as configured, templates
 * unfilled), the endpoint whose mTLS client calls them and the one the user's access-token call
 * goes over. Not the consumer secret or RSA key: a rotated secret of the same consumer is the
 * same consumer, and its dances go on.
 */
export function danceSettings(gateway: Gateway, profile: Profile, scope: DanceScope): string {
  const p = profile.config
  // tokenUrlsOnEndpointServer moves the token calls to other addresses; added only when on, so the digest of a dance started before the key existed is unchanged.
  const parts = [p.consumerKey, p.requestTokenUrl, p.accessTokenUrl, p.authorizeUrl, endpointName(gateway, profile), ...(p.tokenUrlsOnEndpointServer ? ['on endpoint server'] : []), ...accessTokenVia(gateway, profile, scope)]
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

/**
 * The endpoint the access-token call goes over when it is not the profile's own (another endpoint on
 * the URL's origin, tokenUrlEndpoints): a reload that adds or removes it reroutes the call to another
 * server and client certificate than the request token's dance was started with. Added only then, so
 * the digest of a dance whose calls stay on the profile's endpoint is as before.
 */
function accessTokenVia(gateway: Gateway, profile: Profile, scope: DanceScope): string[] {
  try {
    const filled = fillProfileUrl(profile, 'accessTokenUrl', scope)
    const via = filled === undefined ? undefined : tokenEndpoint(gateway, profile, filled.url, scope.tenant).name
    return via === undefined || via === profileEndpoint(gateway, profile).name ? [] : ['access token via', via]
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    return []
  }
}
