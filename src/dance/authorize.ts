/**
 * The start of the dance. Every dance begins on the gateway's one-time link page: a
 * credentialed start (caller bearer or admin token) only makes a link for its user, and the
 * user's click on that page obtains a request token (signed, over mTLS, with the gateway's
 * callback), parks it with the digest of a cookie it gives that browser, and sends the
 * browser to the provider. Only that browser can complete the dance (see callback.ts).
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, methodNotAllowed, statusOf } from '../errors.js'
import { checkPercentUtf8, checkUserId, singleParameters, type BearerStores } from '../callers/index.js'
import { userSpaceOf, type Gateway, type Profile } from '../gateway/index.js'
import type { Store } from '../store/index.js'
import { readJson, sendJson } from '../api/http.js'
import { issueBinding, setBindingCookie } from './binding.js'
import { danceSettings } from './dance-settings.js'
import { apiCredential, callerMayAuthorize, type AdminGuard } from './credentials.js'
import { linkPage, refusalPage, restatedPage, sendPage, sendRedirect } from './pages.js'
import { LINK_USED_UP, storeStep, TAKE_RETRY } from './store-failure.js'
import { checkTenant, obtainRequestToken, profileEndpoint, refuseCredentialInProfileUrls } from './provider.js'
import type { LinkRecord, OAuth1TokenRepo, TokenOwner } from './tokens.js'
import { takeLinkUnopened } from './unopened.js'
import { fromGatewayPage } from './same-site-post.js'
import { authorizePath, callbackUrlFor, linkUrl, providerAuthorizeUrl, requestOrigin } from './urls.js'
import { userSpaceNamed } from './user-space.js'

/** What the dance routes share. */
export interface DanceDeps {
  repo: OAuth1TokenRepo
  /** The throttle of admin-token comparisons. */
  admin: AdminGuard
  /** Caller bearers (when caller apps are configured). */
  stores?: BearerStores
}

/** How long a request token or an authorize link waits for the user. */
export const DANCE_TTL_MS = 10 * 60_000

const UNKNOWN_LINK = 'This authorization link is unknown, expired or already used.'
const MAX_FIELD = 256

/** The provider's name as the user's pages show it. */
export const displayName = (p: Profile): string => p.config.provider ?? p.name

/** The user's fields from `raw` (an object of name → value); undefined when any is missing. */
function pickFields(profile: Profile, raw: unknown): Record<string, string> | undefined {
  const names = profile.config.userFields
  if (names.length === 0) return undefined
  const given = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {}
  for (const k of Object.keys(given)) if (!names.includes(k)) throw new GatewayError('bad_request', `profile "${profile.name}" has no user field "${k}" (userFields: ${names.join(', ')})`)
  const out: [string, string][] = []
  for (const n of names) {
    const v = Object.hasOwn(given, n) ? given[n] : undefined
    if (typeof v !== 'string' || v === '') return undefined
    if (v.length > MAX_FIELD) throw new GatewayError('bad_request', `user field "${n}" is longer than ${MAX_FIELD} characters`)
    out.push([n, v])
  }
  // Object.fromEntries, not `o[n] = v`: assigning a field named `__proto__` sets the prototype instead.
  return Object.fromEntries(out)
}

/**
 * Obtains and parks a request token bound to the clicking browser; returns the provider's
 * authorize URL and the Set-Cookie that binds the browser. The callback URL (and so the
 * cookie's host) is worked out as the link's was, so the cookie comes back with it. A failure
 * of the provider's is said as such; one of the store's, once the link is taken, as a store's.
 */
async function startDance(gateway: Gateway, profile: Profile, owner: TokenOwner, fields: Record<string, string> | undefined, origin: string | undefined, repo: OAuth1TokenRepo): Promise<{ target: string; setCookie: string }> {
  const scope = Object.assign({}, owner, fields ? { fields } : {})
  let callback: string
  let issued: Awaited<ReturnType<typeof obtainRequestToken>>
  try {
    const url = callbackUrlFor(gateway, profile, owner.tenant, origin)
    if (url === undefined) throw new GatewayError('bad_request', `profile "${profile.name}": cannot tell the gateway's callback URL; set listen.publicUrl or profiles[].callbackUrl`)
    callback = url
    issued = await obtainRequestToken(gateway, profile, scope, callback)
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    // A 400 stays the caller's; anything else is a 502 (a 502's own reason kept), at warn, uncapped.
    const status = statusOf(err.reason, 'api')
    throw restatedPage(err, status === 400 || status === 502 ? err.reason : 'oauth_provider_failed', `Could not start the authorization with ${displayName(profile)}: ${err.callerMessage}`)
  }
  const { binding, value } = issueBinding(issued.token, callback)
  const parked = await storeStep(() => repo.savePending(issued.token, Object.assign({}, scope, { secret: issued.secret, browser: binding, settings: danceSettings(gateway, profile, scope) }), DANCE_TTL_MS), LINK_USED_UP)
  if (!parked) throw restatedPage(new GatewayError('oauth_provider_failed', `profile "${profile.name}": the request-token request to ${profile.config.requestTokenUrl} issued a request token another authorization is still waiting on; that one is kept, this one refused (a provider must issue a new request token each time)`), 'oauth_provider_failed', `Could not start the authorization with ${displayName(profile)}: it issued a request token that is already in use`)
  return { target: providerAuthorizeUrl(profile, scope, issued.token, callback), setCookie: setBindingCookie(binding.cookie, value, DANCE_TTL_MS / 1000) }
}

/** True when the form's CSRF token is the link's (constant-time). */
function csrfMatches(link: LinkRecord, given: unknown): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(link.csrf)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The fields the link page asks for: none when the caller supplied them with the link. */
const namesToAsk = (profile: Profile, link: LinkRecord): readonly string[] => (link.fields ? [] : profile.config.userFields)

/**
 * A browser opening a one-time link. GET and HEAD (what link previews send) only show the page; the POST
 * of its form, with the link's CSRF token and from no other site, takes the link (one shot), starts the dance and binds it to this browser.
 */
async function followLink(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, id: string, deps: DanceDeps): Promise<void> {
  const link = await deps.repo.peekLink(id)
  if (link?.profile !== profile.name) throw refusalPage('oauth_authorization_unknown', UNKNOWN_LINK)
  const names = namesToAsk(profile, link)
  if (req.method === 'GET' || req.method === 'HEAD') {
    return sendPage(res, 200, linkPage(displayName(profile), `${authorizePath(profile)}?link=${encodeURIComponent(id)}`, link.csrf, names, link))
  }
  const form = await readJson(req)
  if (!csrfMatches(link, form.csrf) || !fromGatewayPage(req, link.origin ?? gateway.config.listen.publicUrl)) {
    throw refusalPage('oauth_browser_mismatch', 'This form did not come from the authorization page. Open the link again and use its button.')
  }
  const raw = Object.fromEntries(Object.entries(form).filter(([k]) => k.startsWith('field.')).map(([k, v]) => [k.slice(6), v]))
  const fields = link.fields ?? pickFields(profile, raw)
  if (names.length > 0 && fields === undefined) throw refusalPage('bad_request', `Please fill in: ${names.join(', ')}.`)
  const owner = await storeStep(() => deps.repo.takeLink(id), TAKE_RETRY)
  if (owner?.profile !== profile.name) throw refusalPage('oauth_authorization_unknown', UNKNOWN_LINK)
  // The link's origin, not this POST's Host: whoever holds a link can send any Host, and the
  // callback there would receive the approval (and its verifier) of anyone sent the provider's page.
  const started = await startDance(gateway, profile, owner, fields, owner.origin ?? requestOrigin(req), deps.repo)
  sendRedirect(res, 303, started.target, { 'set-cookie': started.setCookie })
}

/** What a link's page needs: the dance's state while per-user profiles exist; else the store, to use a link up in. */
export interface LinkDeps {
  dance?: DanceDeps
  store?: Store
}

/** The parameters of an authorize request, read together: one given twice is refused before anything else is judged. */
const AUTHORIZE_PARAMETERS = ['link', 'tenant', 'user', 'app', 'anonymous', 'format'] as const

/** True for a browser following a one-time link (?link=, no credential): every answer to it is a page. */
export const isLinkFollow = (req: IncomingMessage, url: URL): boolean => url.searchParams.has('link') && req.headers.authorization === undefined

/** The page of a link whose profile a reload removed (or made other than per_user): the name only, which the link's URL carries already. */
const linkProfileGone = (name: string): string =>
  `This authorization link is for the profile "${name}", which is no longer configured on this gateway: its configuration changed after the link was made.`

/**
 * GET|HEAD|POST /gateway/oauth1/<profile>/authorize?link=: a browser following a one-time link,
 * answered with pages only (the route wraps it in pagesOnly), as the callback is. A link whose
 * profile a reload removed (or made other than per_user) is used up, whatever the method,
 * without a word to the provider.
 */
export async function handleLink(req: IncomingMessage, res: ServerResponse, gateway: Gateway, name: string, url: URL, deps: LinkDeps): Promise<void> {
  // Judged before anything is read or taken, as on the callback: a wrong method leaves the link as it was.
  if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
    throw methodNotAllowed(['GET', 'HEAD', 'POST'], `This address is a one-time authorization link, to open in a browser and confirm with its button; ${req.method ?? ''} is not served`)
  }
  checkPercentUtf8(url.search, 'the query string')
  const id = singleParameters(url.searchParams, AUTHORIZE_PARAMETERS).link ?? ''
  const profile = gateway.profiles.get(name)
  if (profile?.config.token.mode === 'per_user' && deps.dance) return followLink(req, res, gateway, profile, id, deps.dance)
  // Taken: nothing of it is left to start once the profile is back.
  const taken = deps.store !== undefined && (await takeLinkUnopened(deps.store, id, name))
  throw refusalPage('oauth_authorization_unknown', taken ? linkProfileGone(name) : UNKNOWN_LINK)
}

/**
 * GET|POST /gateway/oauth1/<profile>/authorize: with the admin token or a caller's bearer,
 * a one-time link for the user (never the provider's URL: the dance must start in the
 * browser that will approve it).
 */
export async function handleAuthorize(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, url: URL, deps: DanceDeps): Promise<void> {
  if (profile.config.token.mode !== 'per_user') throw new GatewayError('not_found', `profile "${profile.name}" does not use per-user tokens (token.mode: per_user)`)
  // Every parameter it reads, read together: one given twice is refused before anything else is judged.
  const query = singleParameters(url.searchParams, AUTHORIZE_PARAMETERS)
  if (req.method !== 'GET' && req.method !== 'POST') throw methodNotAllowed(['GET', 'POST'], `${req.method ?? ''} /gateway/oauth1/<profile>/authorize is not served`)
  const cred = await apiCredential(req, gateway, deps.stores, 'authorize', deps.admin)
  const body = req.method === 'POST' ? await readJson(req) : {}
  const param = (k: 'tenant' | 'user' | 'app' | 'anonymous'): string | undefined => bodyOrQuery(body, query[k], k)
  const tenant = checkTenant(gateway, profile, param('tenant'))
  // The app's tenant rule applies here as on its proxied calls: a token obtained under another
  // tenant would sign calls the app may not make.
  const own = callerMayAuthorize(cred, gateway, profileEndpoint(gateway, profile).name, tenant, param('user'))
  const named = own?.user ?? param('user')
  if (named === undefined || named === '') throw new GatewayError('bad_request', 'name the user: user=<id>')
  const user = checkUserId('"user"', named)
  const anonymous = own?.anonymous ?? (body.anonymous === true || param('anonymous') === 'true')
  // A caller's own app's users; the operator names the app whose user this is.
  const space = cred.kind === 'caller' ? userSpaceOf(gateway.callers, cred.caller.appId) : userSpaceNamed(gateway, param('app'))
  // Fields (a PIN) only from a POST body: a query string ends up in logs. Not given: the user
  // types them into the gateway's own page, never through the bot.
  const fields = pickFields(profile, body.fields)
  const owner: TokenOwner = { space, profile: profile.name, ...(tenant !== undefined ? { tenant } : {}), user, anonymous }
  refuseCredentialInProfileUrls(profile, Object.assign({}, owner, fields ? { fields } : {})) // the click's check: no link for a credential
  const origin = requestOrigin(req)
  const target = linkUrl(gateway, profile, await deps.repo.createLink(owner, DANCE_TTL_MS, fields, origin), origin, tenant)
  if (query.format === 'json' || /\bapplication\/json\b/i.test(req.headers.accept ?? '')) sendJson(res, 200, { authorizeUrl: target, expiresIn: DANCE_TTL_MS / 1000 })
  else sendRedirect(res, 302, target)
}

/** Parameter `k` of a credentialed start, from the body or the query string: once in one of them, never both (which would count is not guessed). */
function bodyOrQuery(body: Record<string, unknown>, query: string | undefined, k: string): string | undefined {
  if (query !== undefined && Object.hasOwn(body, k)) throw new GatewayError('bad_request', `${k} is given both in the request body and in the query string: the gateway does not guess which one counts; send it once`)
  return typeof body[k] === 'string' ? (body[k] as string) : query
}
