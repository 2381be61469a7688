/**
 * The provider's token URLs (RFC 5849 §2.1 temporary credentials, §2.3 token
 * credentials), called signed over the mTLS pool of the endpoint that uses the profile:
 * a partner that demands a client certificate for its API demands it here too.
 */
import { isUtf8 } from 'node:buffer'
import type { Dispatcher } from 'undici'
import { canonicalTenant, concealReferences, TENANT_RULE } from '../config/index.js'
import { GatewayError } from '../errors.js'
import { fillProfileUrl, type DanceScope, type Endpoint, type Gateway, type Profile } from '../gateway/index.js'
import { formDecode, formDecodeStrict, signRequest } from '../oauth1/index.js'
import { classifyUpstreamError } from '../tls/index.js'

/** The provider's answer, as received (the body capped at MAX_REPLY bytes). */
export interface ProviderReply {
  readonly method: 'POST'
  readonly url: string
  readonly endpoint: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** As UTF-8, an invalid byte shown as U+FFFD; at most MAX_REPLY bytes of it. */
  readonly body: string
  /** False when the body went on past MAX_REPLY bytes (`body` is its start). */
  readonly whole: boolean
  /** False when the body's bytes are not UTF-8 (`body` is not what was sent). */
  readonly utf8: boolean
}

/** What a token-URL call adds to the consumer's signature (the scope fills the URL). */
export interface TokenCall extends DanceScope {
  /** oauth_callback of a request-token call; never sent for a legacyOAuth10 profile. */
  callback?: string
  token?: string
  tokenSecret?: string
  verifier?: string
}

/** A token pair the provider issued. */
export interface IssuedToken {
  token: string
  secret: string
}

const FORM = 'application/x-www-form-urlencoded'
// Token replies are a few hundred bytes; a provider's error page is shown, not stored.
const MAX_REPLY = 64 * 1024
/** The parameters of a token reply the gateway reads: each at most once, each UTF-8. */
const TOKEN_REPLY_PARAMS = ['oauth_token', 'oauth_token_secret', 'oauth_callback_confirmed'] as const

/** The endpoint whose client bundle calls the profile's token URLs. */
export function profileEndpoint(gateway: Gateway, profile: Profile): Endpoint {
  const named = profile.config.endpoint
  const endpoint = named !== undefined ? gateway.endpoints.get(named) : [...gateway.endpoints.values()].find((e) => e.profile?.name === profile.name)
  if (endpoint) return endpoint
  throw new GatewayError('endpoint_not_configured', `profile "${profile.name}": no endpoint uses it, so no client bundle can call its token URLs (set profiles[].endpoint)`)
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
  return canonical
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
  const endpoint = profileEndpoint(gateway, profile)
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
  const target = new URL(signed.url)
  const body = signed.body ?? ''
  const headers: Record<string, string> = {
    accept: `${FORM}, */*;q=0.5`,
    'content-length': String(Buffer.byteLength(body)),
    ...(form ? { 'content-type': FORM } : {}),
    ...(signed.authorizationHeader !== undefined ? { authorization: signed.authorizationHeader } : {}),
  }
  // The whole reply within the response timeout: the idle timeout alone lets a provider that drips
  // a byte at a time hold a browser's dance, test-auth or the console's Test for as long as it likes.
  const { responseMs } = endpoint.config.timeouts
  const deadline = new AbortController()
  const timer = responseMs > 0 ? setTimeout(() => deadline.abort(), responseMs) : undefined
  try {
    const res = await upstream.dispatcher.request({ origin: target.origin, path: target.pathname + target.search, method: 'POST', headers, body, signal: deadline.signal })
    const read = await readCapped(res.body)
    // Shown in messages (test-auth, the console, the dance's failure page, logs): a `${env:}` value
    // in the URL (a provider's API key in its query) shows as its reference.
    return { method: 'POST', url: concealReferences(filled.shown, gateway.config.references ?? []), endpoint: endpoint.name, status: res.statusCode, headers: flatten(res.headers), ...read }
  } catch (err) {
    if (deadline.signal.aborted) throw new GatewayError('upstream_timeout', `endpoint "${endpoint.name}": the provider's ${which === 'requestTokenUrl' ? 'request-token' : 'access-token'} reply did not arrive whole within ${responseMs} ms (timeouts.response)`, { cause: err })
    throw classifyUpstreamError(err, endpoint.name)
  } finally {
    clearTimeout(timer)
  }
}

/** The reply's form parameters the gateway reads; a reply cut at the cap, repeating one, or not UTF-8 is refused. */
function tokenReplyParams(where: string, reply: ProviderReply): Map<string, string> {
  const refuse = (what: string): GatewayError => new GatewayError('oauth_provider_failed', `${where} got HTTP ${reply.status} ${what}`)
  if (!reply.whole) throw refuse(`with a reply of more than ${MAX_REPLY / 1024} KiB: a token reply is a short form, and one cut short would hand out a truncated token`)
  if (!reply.utf8) throw refuse('with a reply that is not UTF-8: its token could not be sent back as the provider issued it')
  const out = new Map<string, string>()
  for (const [name, raw] of parseRaw(reply.body)) {
    if (!(TOKEN_REPLY_PARAMS as readonly string[]).includes(name)) continue
    if (out.has(name)) throw refuse(`with ${name} more than once: which one the provider meant is not known`)
    const value = formDecodeStrict(raw)
    if (value === undefined) throw refuse(`with an ${name} that is not UTF-8 once percent-decoded: it could not be sent back as the provider issued it`)
    out.set(name, value)
  }
  return out
}

/** The decoded names and still-encoded values of a form (parseForm's split, the values left for formDecodeStrict). */
function parseRaw(body: string): [string, string][] {
  return body.split('&').filter((part) => part !== '').map((part) => {
    const eq = part.indexOf('=')
    return eq === -1 ? [formDecode(part), ''] : [formDecode(part.slice(0, eq)), part.slice(eq + 1)]
  })
}

/** The token pair of a 2xx form reply; anything else is `oauth_provider_failed` naming the status. */
export function parseTokenReply(profile: Profile, step: string, reply: ProviderReply): IssuedToken {
  const where = `profile "${profile.name}": the ${step} request to ${reply.url}`
  if (reply.status < 200 || reply.status > 299) throw new GatewayError('oauth_provider_failed', `${where} was refused with HTTP ${reply.status}`)
  const f = tokenReplyParams(where, reply)
  const token = f.get('oauth_token')
  const secret = f.get('oauth_token_secret')
  if (!token || secret === undefined) throw new GatewayError('oauth_provider_failed', `${where} got HTTP ${reply.status} without oauth_token and oauth_token_secret`)
  // legacyOAuth10: the operator's explicit opt-out for a provider that implements OAuth Core 1.0.
  if (step === 'request-token' && !profile.config.legacyOAuth10) confirmCallback(where, reply.status, f.get('oauth_callback_confirmed'))
  return { token, secret }
}

/**
 * RFC 5849 §2.1: a request-token reply MUST carry oauth_callback_confirmed=true. Its absence is how an
 * OAuth 1.0 provider (whose dance is open to session fixation: no verifier binds the callback) tells
 * itself apart from a 1.0a one, so anything else is refused before a user is sent to it.
 */
function confirmCallback(where: string, status: number, confirmed: string | undefined): void {
  if (confirmed === 'true') return
  const sent = confirmed === undefined ? 'without oauth_callback_confirmed' : `with oauth_callback_confirmed=${JSON.stringify(confirmed.slice(0, 40))}`
  const why = 'an OAuth 1.0a provider must confirm the callback with oauth_callback_confirmed=true (RFC 5849, section 2.1); this one may implement OAuth 1.0, not 1.0a, whose dance is open to session fixation'
  throw new UnconfirmedCallbackError('oauth_provider_failed', `${where} got HTTP ${status} ${sent}: ${why}`)
}

/** A request-token reply refused for lacking oauth_callback_confirmed=true (the profile test adds the operator's way out). */
export class UnconfirmedCallbackError extends GatewayError {}

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

/** The access token of `reply`; a 4xx that refuses the user's approval is `oauth_authorization_refused`, naming only the status. */
export function parseAccessTokenReply(profile: Profile, reply: ProviderReply): IssuedToken {
  if (refusesAuthorization(reply.status)) {
    const why = `its access-token request answered HTTP ${reply.status}`
    throw new GatewayError('oauth_authorization_refused', `profile "${profile.name}": the access-token request to ${reply.url} was refused with HTTP ${reply.status}: the user's approval (verifier or request token) is not valid, expired or already used`, { callerMessage: why })
  }
  return parseTokenReply(profile, 'access-token', reply)
}

/**
 * True when a provider's status at the access-token step refuses the user's approval rather than
 * the gateway: a 4xx, the request-token step having just proved the consumer's credentials. Not
 * 408 (the provider gave up waiting on the gateway) nor 429 (it throttles the gateway's consumer):
 * those, 5xx and anything unexpected stay `oauth_provider_failed`, which an operator must see.
 */
export function refusesAuthorization(status: number): boolean {
  return status >= 400 && status <= 499 && status !== 408 && status !== 429
}

function flatten(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<Pick<ProviderReply, 'body' | 'whole' | 'utf8'>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const b = chunk as Buffer
    chunks.push(b.subarray(0, Math.max(0, MAX_REPLY - size)))
    size += b.length
    if (size > MAX_REPLY) {
      body.destroy()
      break
    }
  }
  const bytes = Buffer.concat(chunks)
  return { body: bytes.toString('utf8'), whole: size <= MAX_REPLY, utf8: isUtf8(bytes) }
}
