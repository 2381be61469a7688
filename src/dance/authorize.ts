/**
 * The two browser-facing legs of the dance. authorize: obtain a request token (signed,
 * over mTLS, with the gateway's callback), park its secret in the store, send the user to
 * the provider. callback: take the parked request token (one shot), exchange it with the
 * verifier for the user's access token, store that sealed, show a short page.
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, statusOf } from '../errors.js'
import type { BearerStores } from '../callers/index.js'
import type { Gateway, Profile } from '../gateway/index.js'
import { readJson, sendJson } from '../api/http.js'
import { apiCredential, callerMayAuthorize } from './credentials.js'
import { failurePage, linkPage, sendPage, successPage } from './pages.js'
import { checkTenant, obtainAccessToken, obtainRequestToken, profileEndpoint } from './provider.js'
import type { LinkRecord, OAuth1TokenRepo, TokenOwner } from './tokens.js'
import { authorizePath, callbackUrlFor, linkUrl, providerAuthorizeUrl, requestOrigin } from './urls.js'

/** What the dance routes share. */
export interface DanceDeps {
  repo: OAuth1TokenRepo
  /** Caller bearers (when caller apps are configured). */
  stores?: BearerStores
}

/** How long a request token or an authorize link waits for the user. */
export const DANCE_TTL_MS = 10 * 60_000

const UNKNOWN_LINK = 'This authorization link is unknown, expired or already used.'
const MAX_FIELD = 256

const displayName = (p: Profile): string => p.config.provider ?? p.name

function redirect(res: ServerResponse, status: 302 | 303, location: string): void {
  res.writeHead(status, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': 0 })
  res.end()
}

/** The user's fields from `raw` (an object of name → value); undefined when any is missing. */
function pickFields(profile: Profile, raw: unknown): Record<string, string> | undefined {
  const names = profile.config.userFields
  if (names.length === 0) return undefined
  const given = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {}
  for (const k of Object.keys(given)) if (!names.includes(k)) throw new GatewayError('bad_request', `profile "${profile.name}" has no user field "${k}" (userFields: ${names.join(', ')})`)
  const out: Record<string, string> = {}
  for (const n of names) {
    const v = given[n]
    if (typeof v !== 'string' || v === '') return undefined
    if (v.length > MAX_FIELD) throw new GatewayError('bad_request', `user field "${n}" is longer than ${MAX_FIELD} characters`)
    out[n] = v
  }
  return out
}

/** Obtains and parks a request token; returns the provider's authorize URL for the user. */
async function startDance(gateway: Gateway, profile: Profile, owner: TokenOwner, fields: Record<string, string> | undefined, origin: string | undefined, repo: OAuth1TokenRepo): Promise<string> {
  const callback = callbackUrlFor(gateway, profile, owner.tenant, origin)
  if (callback === undefined) throw new GatewayError('bad_request', `profile "${profile.name}": cannot tell the gateway's callback URL; set listen.publicUrl or profiles[].callbackUrl`)
  const scope = Object.assign({}, owner, fields ? { fields } : {})
  const issued = await obtainRequestToken(gateway, profile, scope, callback)
  await repo.savePending(issued.token, Object.assign({}, scope, { secret: issued.secret }), DANCE_TTL_MS)
  return providerAuthorizeUrl(profile, scope, issued.token)
}

/** True when the form's CSRF token is the link's (constant-time). */
function csrfMatches(link: LinkRecord, given: unknown): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(link.csrf)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * A browser opening a one-time link. GET and HEAD (what link previews send) only show the
 * page; the POST of its form, with the link's CSRF token and from no other site, takes the
 * link (one shot) and starts the dance.
 */
async function followLink(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, id: string, deps: DanceDeps): Promise<void> {
  const names = profile.config.userFields
  const link = await deps.repo.peekLink(id)
  if (link?.profile !== profile.name) return sendPage(res, 400, failurePage(UNKNOWN_LINK))
  if (req.method === 'GET' || req.method === 'HEAD') {
    return sendPage(res, 200, linkPage(displayName(profile), `${authorizePath(profile)}?link=${encodeURIComponent(id)}`, link.csrf, names))
  }
  if (req.method !== 'POST') throw new GatewayError('method_not_allowed', 'use GET or POST on an authorize link')
  const form = await readJson(req)
  if (!csrfMatches(link, form.csrf) || req.headers['sec-fetch-site'] === 'cross-site') {
    return sendPage(res, 403, failurePage('This form did not come from the authorization page. Open the link again and use its button.'))
  }
  const raw = Object.fromEntries(Object.entries(form).filter(([k]) => k.startsWith('field.')).map(([k, v]) => [k.slice(6), v]))
  const fields = pickFields(profile, raw)
  if (names.length > 0 && fields === undefined) return sendPage(res, 400, failurePage(`Please fill in: ${names.join(', ')}.`))
  const owner = await deps.repo.takeLink(id)
  if (owner?.profile !== profile.name) return sendPage(res, 400, failurePage(UNKNOWN_LINK))
  let target: string
  try {
    target = await startDance(gateway, profile, owner, fields, requestOrigin(req), deps.repo)
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    return sendPage(res, statusOf(err.reason, 'api') === 400 ? 400 : 502, failurePage(`Could not start the authorization with ${displayName(profile)}: ${err.message}`))
  }
  redirect(res, 303, target)
}

/** GET|POST /gateway/oauth1/<profile>/authorize: a credentialed start, or a browser's one-time link. */
export async function handleAuthorize(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, url: URL, deps: DanceDeps): Promise<void> {
  if (profile.config.token.mode !== 'per_user') throw new GatewayError('not_found', `profile "${profile.name}" does not use per-user tokens (token.mode: per_user)`)
  const link = url.searchParams.get('link')
  if (link !== null && req.headers.authorization === undefined) return followLink(req, res, gateway, profile, link, deps)
  if (req.method !== 'GET' && req.method !== 'POST') throw new GatewayError('method_not_allowed', 'use GET or POST /gateway/oauth1/<profile>/authorize')
  const cred = await apiCredential(req, gateway, deps.stores, 'authorize')
  const body = req.method === 'POST' ? await readJson(req) : {}
  const param = (k: string): string | undefined => (typeof body[k] === 'string' ? (body[k] as string) : (url.searchParams.get(k) ?? undefined))
  const own = callerMayAuthorize(cred, gateway, profileEndpoint(gateway, profile).name, param('user'))
  const user = own?.user ?? param('user')
  if (user === undefined || user === '' || user.length > 256) throw new GatewayError('bad_request', 'name the user: user=<id> (at most 256 characters)')
  const anonymous = own?.anonymous ?? (body.anonymous === true || param('anonymous') === 'true')
  const tenant = checkTenant(gateway, profile, param('tenant'))
  // Fields (a PIN) only from a POST body: a query string ends up in logs.
  const fields = pickFields(profile, body.fields)
  const owner: TokenOwner = { profile: profile.name, ...(tenant !== undefined ? { tenant } : {}), user, anonymous }
  const origin = requestOrigin(req)
  // Fields not given: the user types them into the gateway's own page, never through the bot.
  const target = profile.config.userFields.length > 0 && fields === undefined
    ? linkUrl(gateway, profile, await deps.repo.createLink(owner, DANCE_TTL_MS), origin)
    : await startDance(gateway, profile, owner, fields, origin, deps.repo)
  const wantsJson = url.searchParams.get('format') === 'json' || /\bapplication\/json\b/i.test(req.headers.accept ?? '')
  if (wantsJson) sendJson(res, 200, { authorizeUrl: target, expiresIn: DANCE_TTL_MS / 1000 })
  else redirect(res, 302, target)
}

/** GET /gateway/oauth1/callback?oauth_token&oauth_verifier (or ?denied=): finishes the dance. */
export async function handleCallback(req: IncomingMessage, res: ServerResponse, gateway: Gateway, url: URL, deps: DanceDeps): Promise<void> {
  if (req.method !== 'GET') throw new GatewayError('method_not_allowed', 'use GET /gateway/oauth1/callback')
  const q = url.searchParams
  const denied = q.get('denied')
  const requestToken = q.get('oauth_token') ?? denied
  if (!requestToken) return sendPage(res, 400, failurePage('The provider did not name a request token.'))
  // Taken, not read: a replayed callback finds nothing, and a denied token is gone too.
  const pending = await deps.repo.takePending(requestToken)
  if (denied !== null) return sendPage(res, 403, failurePage('Access was denied at the provider.'))
  if (!pending) return sendPage(res, 400, failurePage('This authorization is unknown, expired or already completed.'))
  const profile = gateway.profiles.get(pending.profile)
  if (!profile) return sendPage(res, 400, failurePage(`The profile "${pending.profile}" is no longer configured.`))
  const verifier = q.get('oauth_verifier')
  if (!verifier) return sendPage(res, 400, failurePage('The provider did not send an oauth_verifier.'))
  let access
  try {
    access = await obtainAccessToken(gateway, profile, pending, { token: requestToken, secret: pending.secret }, verifier)
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    return sendPage(res, 502, failurePage(`${displayName(profile)} did not issue an access token: ${err.message}`))
  }
  await deps.repo.saveToken(pending, { token: access.token, tokenSecret: access.secret, ...(pending.fields ? { fields: pending.fields } : {}), obtainedAt: Date.now() })
  sendPage(res, 200, successPage(displayName(profile)))
}
