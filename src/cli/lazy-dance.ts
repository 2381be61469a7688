/**
 * The OAuth 1.0a dance (dance/) as the composition root's feature, its modules imported only
 * when a config can use them: before the gateway serves when the config has profiles, when a
 * reload adds the first, else by the first request that reaches the dance (a /gateway/oauth1/
 * route, a per-user token, an identity merge), which then waits for the import once. A failed
 * import fails the requests that need the dance until a reload that needs it imports it again.
 */
import type { GatewayConfig } from '../config/index.js'
import type { OAuth1Feature } from '../dance/index.js'
import type { Gateway } from '../gateway/index.js'
import type { FeatureFactory } from './gateway-root.js'

/** Every route of the dance is under this path (dance/feature.ts). */
const DANCE_ROUTES = '/gateway/oauth1/'

const usesDance = (config: GatewayConfig): boolean => config.profiles.length > 0

/** createOAuth1Feature, imported when needed. */
export const lazyOAuth1Feature: FeatureFactory = (ctx) => {
  let feature: OAuth1Feature | undefined
  let loading: Promise<OAuth1Feature> | undefined
  let failed = false
  const load = async (): Promise<OAuth1Feature> =>
    feature ??
    (loading ??= import('../dance/index.js').then(
      (m) => (feature = m.createOAuth1Feature(ctx)),
      (e: unknown) => {
        failed = true
        throw e
      },
    ))
  const onCompiled = (gateway: Gateway): void => {
    if (!usesDance(gateway.config)) return
    // A reload that needs the dance tries a failed import again (the install may be fixed since);
    // requests meanwhile fail with the last failure. A failed import is the first request's to report.
    if (failed) [failed, loading] = [false, undefined]
    load().catch(() => undefined)
  }
  // Loaded at start: the dance itself serves (no step between it and each request).
  if (usesDance(ctx.ref.current.config)) return load().then((f) => ({ ...f, onCompiled }))
  return {
    routes: [
      async (req, res, gateway, path, url) => {
        if (!path.startsWith(DANCE_ROUTES)) return false
        for (const route of (await load()).routes) if (await route(req, res, gateway, path, url)) return true
        return false
      },
    ],
    userTokens: async (profile, actx, user, formerId) => (feature ?? (await load())).userTokens(profile, actx, user, formerId),
    onIdentityMerge: async (caller, gateway) => (feature ?? (await load())).onIdentityMerge(caller, gateway),
    onCompiled,
  }
}
