/** The OAuth 1.0a three-legged dance: its /gateway/oauth1/… routes, per-user tokens, profile tests. */
export { createOAuth1Feature, tokenRepoFor, type OAuth1Feature } from './feature.js'
export { createTokenRepo } from './tokens.js'
export { ANONYMOUS_TOKEN_PREFIX, KNOWN_TOKEN_PREFIX, parseTokenKey, storedTokenKey, tokenKey, type StoredTokenOwner } from './token-keys.js'
export { DANCE_TTL_MS } from './authorize.js'
export { userSpaceNamed } from './user-space.js'
export { formatProfileTest, redactProviderText, testProfile, type ProfileTestResult } from './profile-test.js'
export { callbackUrlFor, gatewayBase, linkUrl, originFrom } from './urls.js'
export { checkTenant } from './provider.js'
