/**
 * The OAuth 1.0a three-legged dance as one feature of the composition root: its
 * /gateway/oauth1/… routes, the per-user token source the proxy signs with, and the move
 * of an anonymous user's tokens on identityToMerge.
 *
 *   GET|POST /gateway/oauth1/<profile>/authorize  admin token or caller bearer: a one-time link; or ?link=<id>: its page and button (pages only)
 *   GET      /gateway/oauth1/callback             the provider's redirect (request token + the clicking browser's cookie)
 *   DELETE   /gateway/oauth1/<profile>/tokens/<user>[?tenant=][&app=]  admin token; without app=, in every user space
 *   POST     /gateway/oauth1/<profile>/test[?tenant=]           admin token
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, methodNotAllowed } from '../errors.js'
import { checkPercentUtf8, checkStoredUserId, singleHeader, singleParameter, singleParameters, type Caller } from '../callers/index.js'
import { userSpaceOf, type Gateway, type Profile } from '../gateway/index.js'
import type { Admitted, OAuthToken } from '../proxy/pipeline.js'
import type { Runtime } from '../runtime/index.js'
import { SealError } from '../store/index.js'
import { sendJson } from '../api/http.js'
import type { ApiRoute } from '../api/router.js'
import { createAdminGuard, requireAdmin, type AdminGuard } from './credentials.js'
import { DANCE_TTL_MS, handleAuthorize, handleLink, isLinkFollow, type DanceDeps, type LinkDeps } from './authorize.js'
import { handleCallback, type CallbackDeps } from './callback.js'
import { pagesOnly } from './pages.js'
import { checkTenant } from './provider.js'
import { formatProfileTest, testProfile } from './profile-test.js'
import { createTokenRepo, type OAuth1TokenRepo } from './tokens.js'
import { CALLBACK_PATH, linkUrl, originFrom, requestOrigin } from './urls.js'
import { userSpaceNamed } from './user-space.js'

/** What the composition root plugs in (structurally gateway-root.ts's Feature). */
export interface OAuth1Feature {
  routes: ApiRoute[]
  userTokens: (profile: Profile, ctx: Admitted, user: string, formerId?: string) => Promise<OAuthToken>
  onIdentityMerge: (caller: Caller, gateway: Gateway) => Promise<void>
}

const PROFILE_ROUTE = /^\/gateway\/oauth1\/([^/]+)\/(authorize|test|tokens\/([^/]+))$/

function decode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new GatewayError('bad_request', 'malformed percent-encoding in the path')
  }
}

function profileNamed(gateway: Gateway, name: string): Profile {
  const profile = gateway.profiles.get(name)
  if (!profile) throw new GatewayError('not_found', `no profile named "${name}"`)
  return profile
}

/** The dance's state for one snapshot: the runtime's store, the snapshot's sealer and TTLs. */
export function tokenRepoFor(runtime: Pick<Runtime, 'store'> & { readonly observer?: Runtime['observer'] }, gateway: Gateway): OAuth1TokenRepo | undefined {
  const { store } = runtime
  const sealer = gateway.sealers.records
  const onResealed = runtime.observer?.onRecordResealed
  return store && sealer ? createTokenRepo({ store, sealer, anonymousTtlMs: gateway.config.callers.anonymousTtlMs, ...(onResealed ? { onResealed } : {}) }) : undefined
}

/** The /gateway/oauth1/… routes: the callback, and a profile's authorize, test and token revoke. */
function oauth1Route(deps: (gateway: Gateway) => DanceDeps, linkDeps: (gateway: Gateway) => LinkDeps, callbackDeps: (gateway: Gateway) => CallbackDeps, admin: AdminGuard): ApiRoute {
  return async (req, res, gateway, path, url) => {
    if (!path.startsWith('/gateway/oauth1/')) return false
    // The callback checks its query itself: a browser's failures there are pages (the store's and bugs' too).
    if (path === CALLBACK_PATH) {
      await pagesOnly(async () => handleCallback(req, res, gateway, url, callbackDeps(gateway)))
      return true
    }
    const m = PROFILE_ROUTE.exec(path)
    // A browser following a link: its failures are pages too, its profile gone or not (a reload).
    if (m?.[2] === 'authorize' && isLinkFollow(req, url)) {
      await pagesOnly(async () => handleLink(req, res, gateway, decode(m[1] as string), url, linkDeps(gateway)))
      return true
    }
    // user=, app=, tenant=: read as UTF-8 like every caller's text, not with U+FFFD for bytes that are not.
    checkPercentUtf8(url.search, 'the query string')
    if (!m) return false
    const profile = profileNamed(gateway, decode(m[1] as string))
    if (m[2] === 'authorize') await handleAuthorize(req, res, gateway, profile, url, deps(gateway))
    else if (m[2] === 'test') await runTest(req, res, gateway, profile, url, admin)
    else await revoke(req, res, gateway, profile, checkStoredUserId('the user in the path', decode(m[3] as string)), url, deps(gateway))
    return true
  }
}

/** The callback's state for one snapshot: one without a token repo still answers a dance begun under an earlier one, with a page. */
function callbackDepsFor(runtime: Pick<Runtime, 'store'>, gateway: Gateway): CallbackDeps {
  const repo = tokenRepoFor(runtime, gateway)
  return Object.assign(repo ? { repo } : {}, runtime.store ? { store: runtime.store } : {})
}

/** A link page's state for one snapshot: one without a token repo (no per-user profile left) still uses a link up in the store. */
function linkDepsFor(runtime: Pick<Runtime, 'store'>, gateway: Gateway, deps: (gateway: Gateway) => DanceDeps): LinkDeps {
  return Object.assign(tokenRepoFor(runtime, gateway) ? { dance: deps(gateway) } : {}, runtime.store ? { store: runtime.store } : {})
}

/** Builds the feature; everything it reads comes from the runtime and the snapshot in use. */
export function createOAuth1Feature(ctx: { runtime: Runtime }): OAuth1Feature {
  const { runtime } = ctx
  // One per process, for its life (reloads keep the counts); the count itself is in the store.
  const onAuthFailure = runtime.observer.onAuthFailure
  const admin = createAdminGuard(() => runtime.store, onAuthFailure ? () => onAuthFailure('admin_token_throttled') : undefined)
  const deps = (gateway: Gateway): DanceDeps => {
    const repo = tokenRepoFor(runtime, gateway)
    // compileSealers refuses per-user profiles without seal keys, so this is a snapshot without them.
    if (!repo) throw new GatewayError('not_found', 'no profile uses per-user tokens (token.mode: per_user), so there is no token store')
    const stores = runtime.bearerStores(gateway)
    return stores ? { repo, admin, stores } : { repo, admin }
  }

  const route = oauth1Route(deps, (gateway) => linkDepsFor(runtime, gateway, deps), (gateway) => callbackDepsFor(runtime, gateway), admin)

  return {
    routes: [route],
    async userTokens(profile, actx, user, formerId) {
      const { repo } = deps(actx.gateway)
      // The caller's app's users: another app's user of the same id has tokens of their own.
      const space = userSpaceOf(actx.gateway.callers, actx.caller.appId)
      const owner = { space, profile: profile.name, ...(actx.tenant !== undefined ? { tenant: actx.tenant } : {}), user, anonymous: actx.caller.isAnonymous === true }
      let unreadable: SealError | undefined
      try {
        const stored = await (formerId === undefined ? repo.findToken(owner) : repo.findOrAdoptToken(owner, formerId))
        if (stored) return { token: stored.token, tokenSecret: stored.tokenSecret, ...(stored.fields ? { fields: stored.fields } : {}) }
      } catch (err) {
        // A token sealed under a retired key is as good as none: the user authorizes again.
        if (!(err instanceof SealError)) throw err
        unreadable = err
      }
      // A one-time link rather than a request token: a failing call must not cost a provider round trip;
      // and the same link for every retry while it is unused, not a store record per call.
      const host = singleHeader(actx.inbound, 'host', 'Host')
      const origin = actx.mode === 'route' && host !== undefined ? originFrom(host, actx.inbound.tls !== undefined) : undefined
      const id = await repo.reusableLink(owner, DANCE_TTL_MS, origin)
      const authorizeUrl = linkUrl(actx.gateway, profile, id, origin, actx.tenant)
      const why = unreadable ? `the user's stored token for profile "${profile.name}" cannot be opened (${unreadable.message})` : `the user has not authorized profile "${profile.name}" yet`
      // RFC 9110 §15.5.2: a 401 names its scheme; the user authorizes the OAuth 1.0a profile at authorizeUrl.
      const challenge = `OAuth realm="${(profile.config.realm ?? profile.name).replace(/["\\]/g, '\\$&')}"`
      throw new GatewayError('oauth_token_missing', `${why}: open authorizeUrl in a browser`, { details: { authorizeUrl }, headers: { 'www-authenticate': challenge } })
    },
    async onIdentityMerge(caller, gateway) {
      const repo = tokenRepoFor(runtime, gateway)
      // A merge makes a known user of an anonymous one; an anonymous assertion merges nothing.
      if (caller.identityToMerge === undefined || caller.sub === undefined || caller.isAnonymous === true || !repo) return
      await repo.mergeAnonymous(userSpaceOf(gateway.callers, caller.appId), caller.identityToMerge, caller.sub, profilesOfApp(gateway, caller.appId))
    },
  }
}

/** The profiles of the endpoints app `appId` may use: what its merges may move. */
function profilesOfApp(gateway: Gateway, appId: string): Set<string> {
  const app = gateway.callers.apps.get(appId)
  const out = new Set<string>()
  if (app === undefined) return out
  for (const e of gateway.endpoints.values()) {
    if (e.profile !== undefined && (app.anyEndpoint || app.endpoints.has(e.name))) out.add(e.profile.name)
  }
  return out
}

async function runTest(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, url: URL, admin: AdminGuard): Promise<void> {
  if (req.method !== 'POST') throw methodNotAllowed(['POST'], `${req.method ?? ''} /gateway/oauth1/<profile>/test is not served`)
  await requireAdmin(req, gateway, 'POST /gateway/oauth1/<profile>/test', admin)
  const result = await testProfile(gateway, profile.name, singleParameter(url.searchParams, 'tenant'), requestOrigin(req))
  sendJson(res, 200, Object.assign({}, result, { report: formatProfileTest(result) }))
}

async function revoke(req: IncomingMessage, res: ServerResponse, gateway: Gateway, profile: Profile, user: string, url: URL, { repo, admin }: DanceDeps): Promise<void> {
  if (req.method !== 'DELETE') throw methodNotAllowed(['DELETE'], `${req.method ?? ''} /gateway/oauth1/<profile>/tokens/<user> is not served`)
  await requireAdmin(req, gateway, 'DELETE /gateway/oauth1/<profile>/tokens/<user>', admin)
  const query = singleParameters(url.searchParams, ['tenant', 'app'])
  const tenant = checkTenant(gateway, profile, query.tenant)
  // Without app=, the operator cuts the user id off in every user space (and earlier versions' keys).
  const app = query.app
  const space = app === undefined ? undefined : userSpaceNamed(gateway, app)
  const removed = await repo.revoke({ space, profile: profile.name, ...(tenant !== undefined ? { tenant } : {}), user })
  if (!removed) throw new GatewayError('not_found', `no token stored for that user with profile "${profile.name}"${app === undefined ? '' : ` in the user space of app "${app}"`}`)
  sendJson(res, 200, { revoked: true })
}
