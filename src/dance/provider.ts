/**
 * The provider's token URLs (RFC 5849 §2.1 temporary credentials, §2.3 token
 * credentials), called signed over the mTLS pool of the endpoint that uses the profile (or of
 * the endpoint configured for the token URL's origin): a partner that demands a client
 * certificate for its API demands it here too.
 */
import type { Dispatcher } from 'undici'
import { canonicalTenant, concealReferences, PROFILE_URL_KEYS, TENANT_RULE } from '../config/index.js'
import { GatewayError } from '../errors.js'
import { carriesGatewayBearer } from '../callers/index.js'
import { fillProfileUrl, type DanceScope, type Endpoint, type Gateway, type Profile } from '../gateway/index.js'
import { signRequest } from '../oauth1/index.js'
import { classifyUpstreamError } from '../tls/index.js'
import { flatten, parseAccessTokenReply, parseTokenReply, readCapped, type IssuedToken, type ProviderReply } from './token-reply.js'

/** What a token-URL call adds to the consumer's signature (the scope fills the URL). */
export interface TokenCall extends DanceScope {
  /** oauth_callback of a request-token call; never sent for a legacyOAuth10 profile. */
  callback?: string
  token?: string
  tokenSecret?: string
  verifier?: string
}

const FORM = 'application/x-www-form-urlencoded'

/** The endpoint whose client bundle calls the profile's token URLs. */
export function profileEndpoint(gateway: Gateway, profile: Profile): Endpoint {
  const named = profile.config.endpoint
  const endpoint = named !== undefined ? gateway.endpoints.get(named) : [...gateway.endpoints.values()].find((e) => e.profile?.name === profile.name)
  if (endpoint) return endpoint
  throw new GatewayError('endpoint_not_configured', `profile "${profile.name}": no endpoint uses it, so no client bundle can call its token URLs (set profiles[].endpoint)`)
}

/** `endpoint`'s origin for `tenant`, or undefined when its URL makes none for it (a `{tenant}` URL and no tenant). */
function originOf(endpoint: Endpoint, tenant: string | undefined): string | undefined {
  try {
    return endpoint.destination.at(tenant).origin
  } catch {
    return undefined
  }
}

/**
 * The endpoint a token call to `url` goes over, and so whose bundle, address settings and timeouts it
 * takes (destination integrity: all from one endpoint). The profile's endpoint, when the URL is on its
 * origin or the profile says its server answers every token URL (tokenUrlsOnEndpointServer); else the
 * one of tokenUrlEndpoints on the URL's origin, or the first endpoint in config order there; else the profile's endpoint, whose pool then
 * dials the URL by its own name (gateway/upstream.ts), none of its own origin's settings applied.
 */
export function tokenEndpoint(gateway: Gateway, profile: Profile, url: string, tenant: string | undefined): Endpoint {
  const own = profileEndpoint(gateway, profile)
  const origin = new URL(url).origin
  if (profile.config.tokenUrlsOnEndpointServer || originOf(own, tenant) === origin) return own
  const on = [...gateway.endpoints.values()].filter((e) => originOf(e, tenant) === origin)
  return on.find((e) => profile.config.tokenUrlEndpoints.includes(e.name)) ?? on[0] ?? own
}

/** The tenant named in a gateway API call, in lower case (config/tenant-label.ts: the proxy's rule). */
export function checkTenant(gateway: Gateway, profile: Profile, tenant: string | undefined): string | undefined {
  const needed = profile.config.tenancy || profileEndpoint(gateway, profile).tenancy
  if (tenant === undefined || tenant === '') {
    if (needed) throw new GatewayError('tenant_invalid', `profile "${profile.name}" needs a tenant: add tenant=<name>`)
    return undefined
  }
  if (!needed) throw new GatewayError('tenant_invalid', `profile "${profile.name}" does not use tenants`)
  const canonical = canonicalTenant(tenant)
  if (canonical === undefined) throw new GatewayError('tenant_invalid', `profile "${profile.name}": ${TENANT_RULE}`)
  // As the proxy's tenant (match-endpoint.ts): a bearer would reach a token URL, the link record and the logs as the tenant.
  if (carriesGatewayBearer(canonical)) throw new GatewayError('credential_in_target', `profile "${profile.name}": the tenant holds a gateway credential, which would reach the provider and the logs as the tenant: send it in Proxy-Authorization (route mode: Authorization) only`)
  return canonical
}

/**
 * The credential check of every profile URL a link's click fills for `scope` (the owner and the
 * fields given with the link), made before the link is: a user or field holding a gateway
 * credential is refused with the click's own 400 credential_in_target, so no link or pending
 * record holds it and the provider is never called for it. The URLs are filled as the click fills
 * them (the callback with the tenant alone); a user field the user types at the click is not known
 * yet: a letter stands in for it, and the click judges the URLs again with what was typed. Any
 * other refusal of a fill stays the click's, whose page says it.
 */
export function refuseCredentialInProfileUrls(profile: Profile, scope: DanceScope): void {
  // Object.fromEntries, not `o[n] = v`: a field named `__proto__` must stay a field.
  const fields = Object.fromEntries([...profile.config.userFields.map((n): [string, string] => [n, 'x']), ...Object.entries(scope.fields ?? {})])
  const tenantOnly: DanceScope = scope.tenant !== undefined ? { tenant: scope.tenant } : {}
  const filled = Object.assign({}, scope, { fields })
  for (const which of PROFILE_URL_KEYS) {
    try {
      fillProfileUrl(profile, which, which === 'callbackUrl' ? tenantOnly : filled)
    } catch (err) {
      if (err instanceof GatewayError && err.reason === 'credential_in_target') throw err
    }
  }
}

/**
 * POSTs a signed request to a token URL over the endpoint's mTLS pool; any HTTP status resolves.
 * A legacyOAuth10 profile's request carries no oauth_callback: OAuth Core 1.0 §6.1.1 has none (its
 * provider learns the callback at the authorize URL, urls.ts), and a strict one refuses an unknown parameter.
 */
export async function callTokenUrl(gateway: Gateway, profile: Profile, which: 'requestTokenUrl' | 'accessTokenUrl', call: TokenCall): Promise<ProviderReply> {
  const filled = fillProfileUrl(profile, which, call)
  if (filled === undefined) throw new GatewayError('not_found', `profile "${profile.name}" has no ${which}`)
  const { url } = filled
  const endpoint = tokenEndpoint(gateway, profile, url, call.tenant)
  const upstream = (call.tenant !== undefined ? endpoint.tenantUpstreams.get(call.tenant)?.upstream : undefined) ?? endpoint.upstream
  const p = profile.config
  const form = p.placement === 'body'
  const signed = signRequest({
    method: 'POST',
    url,
    consumerKey: p.consumerKey,
    consumerSecret: p.consumerSecret,
    ...(call.token !== undefined ? { token: call.token, tokenSecret: call.tokenSecret ?? '' } : {}),
    ...(call.callback !== undefined && !p.legacyOAuth10 ? { callback: call.callback } : {}),
    ...(call.verifier !== undefined ? { verifier: call.verifier } : {}),
    signatureMethod: p.signatureMethod,
    ...(profile.privateKey ? { privateKey: profile.privateKey } : {}),
    ...(p.realm !== undefined ? { realm: p.realm } : {}),
    includeVersion: p.version,
    placement: p.placement,
    ...(form ? { contentType: FORM, body: '' } : {}),
  })
  const body = signed.body ?? ''
  const headers: Record<string, string> = {
    accept: `${FORM}, */*;q=0.5`,
    'content-length': String(Buffer.byteLength(body)),
    ...(form ? { 'content-type': FORM } : {}),
    ...(signed.authorizationHeader !== undefined ? { authorization: signed.authorizationHeader } : {}),
  }
  const read = await postWhole(endpoint, upstream.dispatcher, signed.url, headers, body, which === 'requestTokenUrl' ? 'request-token' : 'access-token')
  // Shown in messages (test-auth, the console, the dance's failure page, logs): a `${env:}` value
  // in the URL (a provider's API key in its query) shows as its reference.
  return { method: 'POST', url: concealReferences(filled.shown, gateway.config.references ?? []), endpoint: endpoint.name, ...read }
}

/**
 * POSTs and reads the reply, whole within the endpoint's response timeout: the idle timeout alone lets a provider
 * that drips a byte at a time hold a browser's dance, test-auth or the console's Test for as long as it likes.
 */
async function postWhole(endpoint: Endpoint, dispatcher: Dispatcher, url: string, headers: Record<string, string>, body: string, step: string): Promise<Pick<ProviderReply, 'status' | 'headers' | 'body' | 'whole' | 'utf8'>> {
  const target = new URL(url)
  const { responseMs } = endpoint.config.timeouts
  const deadline = new AbortController()
  const timer = responseMs > 0 ? setTimeout(() => deadline.abort(), responseMs) : undefined
  try {
    const res = await dispatcher.request({ origin: target.origin, path: target.pathname + target.search, method: 'POST', headers, body, signal: deadline.signal })
    return { status: res.statusCode, headers: flatten(res.headers), ...(await readCapped(res.body)) }
  } catch (err) {
    if (deadline.signal.aborted) throw new GatewayError('upstream_timeout', `endpoint "${endpoint.name}": the provider's ${step} reply did not arrive whole within ${responseMs} ms (timeouts.response)`, { cause: err })
    throw classifyUpstreamError(err, endpoint.name)
  } finally {
    clearTimeout(timer)
  }
}

/** Obtains a request token (temporary credentials) with `callback` as oauth_callback (none for OAuth Core 1.0: legacyOAuth10). */
export async function obtainRequestToken(gateway: Gateway, profile: Profile, scope: DanceScope, callback: string): Promise<IssuedToken> {
  const reply = await callTokenUrl(gateway, profile, 'requestTokenUrl', { tenant: scope.tenant, user: scope.user, fields: scope.fields, callback })
  return parseTokenReply(profile, 'request-token', reply)
}

/**
 * Exchanges an authorized request token and its verifier for the user's access token; an OAuth
 * Core 1.0 provider (legacyOAuth10) sends no verifier, and its request is signed with the request token alone.
 */
export async function obtainAccessToken(gateway: Gateway, profile: Profile, scope: DanceScope, request: IssuedToken, verifier: string | undefined): Promise<IssuedToken> {
  const reply = await callTokenUrl(gateway, profile, 'accessTokenUrl', { tenant: scope.tenant, user: scope.user, fields: scope.fields, token: request.token, tokenSecret: request.secret, ...(verifier !== undefined ? { verifier } : {}) })
  return parseAccessTokenReply(profile, reply)
}
