/**
 * The end of the dance: the provider's redirect back. The request token names the pending
 * request, which is taken (one shot) and completed only when the browser carries the cookie
 * the link page's click gave it; then the verifier is exchanged for the user's access token,
 * stored sealed, and the browser sees a short page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError, methodNotAllowed, statusOf, type Reason } from '../errors.js'
import { checkPercentUtf8, singleParameters } from '../callers/index.js'
import type { Gateway, Profile } from '../gateway/index.js'
import type { Store } from '../store/index.js'
import { displayName } from './authorize.js'
import { danceSettings } from './dance-settings.js'
import { claimPending, clearBindingCookie, type BindingCookie, type Claim, type ClaimRefusal } from './binding.js'
import { asFailurePage, browserFacing, refusalPage, restatedPage, sendPage, successPage } from './pages.js'
import { CLAIM_RETRY, notKept, storeStep } from './store-failure.js'
import { obtainAccessToken } from './provider.js'
import type { OAuth1TokenRepo, PendingRequest } from './tokens.js'
import { hasPendingUnopened, takePendingUnopened, type PendingBinding } from './unopened.js'

/** The callback's state: the snapshot's token repo (none when no per-user profile, so no seal keys, is left) and the store, to read a dance in and use it up in. */
export interface CallbackDeps {
  repo?: OAuth1TokenRepo
  store?: Store
}

const REFUSALS: Readonly<Record<ClaimRefusal, { reason: Reason; why: string }>> = {
  unknown: { reason: 'oauth_authorization_unknown', why: 'This authorization is unknown, expired or already completed.' },
  cookie_missing: {
    reason: 'oauth_browser_mismatch',
    why: 'This browser did not start this authorization: it was approved in a browser other than the one that opened the authorization link (or that browser blocked the gateway\'s cookie). Open the link and approve in the same browser.',
  },
  cookie_mismatch: {
    reason: 'oauth_browser_mismatch',
    why: 'This browser\'s authorization cookie does not belong to this authorization: the approval came back to a browser other than the one that opened the authorization link.',
  },
}

const clearing = (cookie: BindingCookie | undefined): Record<string, string> => (cookie ? { 'set-cookie': clearBindingCookie(cookie) } : {})

/**
 * The page of a failed access-token exchange, with a reason for the access line: a refused approval
 * is a 4xx anyone with a link can cause (capped like any client's); a provider's 5xx, timeout, TLS or
 * reachability failure stays 502/504 at warn, what an operator must see; a gateway-side refusal on
 * the way (its config: no endpoint, the egress policy) is no user's doing either, a 502 as ever.
 */
function exchangeFailure(profile: Profile, err: GatewayError, headers: Record<string, string>): GatewayError {
  const refused = err.reason === 'oauth_authorization_refused'
  const why = refused
    ? `${displayName(profile)} refused this authorization (${err.callerMessage}): the approval may have expired, been used already, or come back altered.`
    : `${displayName(profile)} did not issue an access token: ${err.callerMessage}`
  return restatedPage(err, refused || statusOf(err.reason, 'api') >= 500 ? err.reason : 'oauth_provider_failed', why, headers)
}

/** The claim on `requestToken`'s dance: opened with the repo, else only taken (its secrets stay sealed; it cannot complete). */
function claim(deps: CallbackDeps, requestToken: string, cookieHeader: string | undefined): Promise<Claim<PendingRequest | PendingBinding>> {
  const { repo, store } = deps
  const hasPending = async (t: string): Promise<boolean> => store !== undefined && (await hasPendingUnopened(store, t))
  const takePending = async (t: string): Promise<PendingRequest | PendingBinding | undefined> => (repo ? repo.takePending(t) : store ? takePendingUnopened(store, t) : undefined)
  return claimPending({ hasPending, takePending }, requestToken, cookieHeader)
}

/** The page of a dance whose profile a reload removed (or made other than per_user): the name only, which the link's URL carried already. */
const profileGone = (name: string): string =>
  `This authorization was started for the profile "${name}", which is no longer configured on this gateway: its configuration changed while you were at the provider.`

/** The page of a dance whose profile a reload gave another consumer key, token or authorize URL, or endpoint (its own, or its access-token call's: dance-settings.ts). */
const settingsChanged = (name: string): string =>
  `This authorization was started under settings of the profile "${name}" (its consumer key, provider URLs or endpoint) that changed while you were at the provider: the approval belongs to the old ones.`

/** GET /gateway/oauth1/callback?oauth_token&oauth_verifier (or ?denied=; OAuth Core 1.0: no verifier): finishes the dance. */
export async function handleCallback(req: IncomingMessage, res: ServerResponse, gateway: Gateway, url: URL, deps: CallbackDeps): Promise<void> {
  // A browser page like the callback's other failures (a provider may send the user back with a form POST).
  if (req.method !== 'GET') throw asFailurePage(methodNotAllowed(['GET'], `This address takes only the provider's redirect back to the gateway; ${req.method ?? ''} /gateway/oauth1/callback is not served`))
  // Read as UTF-8 (as every caller's text), each once, before anything is taken: a callback that
  // repeats one is refused and leaves the dance as it was.
  const { oauth_token: token, denied, oauth_verifier: verifier } = browserFacing(() => {
    checkPercentUtf8(url.search, 'the query string')
    return singleParameters(url.searchParams, ['oauth_token', 'denied', 'oauth_verifier'])
  })
  const requestToken = token ?? denied
  if (!requestToken) throw refusalPage('bad_request', 'The provider did not name a request token.')
  // Taken, whatever the cookie: a replayed callback finds nothing, and neither a denial nor an
  // approval that came back to the wrong browser can be used afterwards. A store that cannot
  // answer leaves it to a reload of this page.
  const claimed = await storeStep(() => claim(deps, requestToken, req.headers.cookie), CLAIM_RETRY)
  if (!claimed.ok) throw refusalPage(REFUSALS[claimed.why].reason, REFUSALS[claimed.why].why, clearing(claimed.cookie))
  const { pending } = claimed
  const done = clearing(pending.browser?.cookie)
  if (denied !== undefined) throw refusalPage('oauth_access_denied', 'Access was denied at the provider.', done)
  const profile = gateway.profiles.get(pending.profile)
  // Taken above either way: nothing of this dance is left to complete once its profile is back.
  if (profile?.config.token.mode !== 'per_user' || !deps.repo || !('secret' in pending)) throw refusalPage('oauth_authorization_unknown', profileGone(pending.profile), done)
  // Its request token and the user's approval are the old consumer's, for the old addresses: never sent to new ones.
  // A dance an earlier version parked names no settings (a rolling upgrade's old replica started it): judged as that version would.
  if (typeof pending.settings === 'string' && pending.settings !== danceSettings(gateway, profile, pending)) throw refusalPage('oauth_authorization_unknown', settingsChanged(pending.profile), done)
  // OAuth Core 1.0 has no verifier; a legacyOAuth10 profile passes one only if its provider sends it.
  if (!verifier && !profile.config.legacyOAuth10) throw refusalPage('bad_request', 'The provider did not send an oauth_verifier.', done)
  let access
  try {
    access = await obtainAccessToken(gateway, profile, pending, { token: requestToken, secret: pending.secret }, verifier || undefined)
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    throw exchangeFailure(profile, err, done)
  }
  const repo = deps.repo
  await storeStep(() => repo.saveToken(pending, { token: access.token, tokenSecret: access.secret, ...(pending.fields ? { fields: pending.fields } : {}), obtainedAt: Date.now() }), notKept(displayName(profile)), done)
  sendPage(res, 200, successPage(displayName(profile)), done)
}
