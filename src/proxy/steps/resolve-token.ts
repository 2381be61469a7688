/**
 * resolve_token: who the call is for, and which OAuth token signs it: none (two-legged),
 * the profile's static token, or the user's own token from a pluggable source (the
 * three-legged dance stores them). Runs before fields, whose templates may use the
 * user's stored fields.
 */
import { GatewayError } from '../../errors.js'
import { checkUserId, headerText, latin1Reading, singleHeader } from '../../callers/index.js'
import type { Profile } from '../../gateway/index.js'
import type { Admitted, OAuthToken, Step } from '../pipeline.js'
import { cgiShadowTest, withoutShadows } from '../gateway-headers.js'

/**
 * Finds a user's token; throws GatewayError('oauth_token_missing') with the authorize URL.
 * `formerId`: the id an earlier version stored this user's tokens under (X-Gateway-User read as
 * Latin-1), when it differs: a token found only there is moved to `user`.
 */
export type UserTokenSource = (profile: Profile, ctx: Admitted, user: string, formerId?: string) => Promise<OAuthToken>

/** Until callers authenticate with JWTs, the user may be named by this header. */
export const USER_HEADER = 'x-gateway-user'

/**
 * X-Gateway-User and every spelling a CGI-style backend keys the same (`x_gateway_user`,
 * `X.Gateway.User`; gateway-headers.ts). Built once: it runs over every request's headers.
 */
const userHeaderShadow = cgiShadowTest([USER_HEADER], [USER_HEADER])

/**
 * The user: the caller's JWT `sub` when there is one, else the X-Gateway-User header read as
 * UTF-8 (400 when its bytes are not UTF-8 or it is not a user id, or when it is sent twice, even
 * beside a `sub`: one rule for every call).
 */
export function userOf(ctx: Admitted): string | undefined {
  const v = singleHeader(ctx.inbound, USER_HEADER, 'X-Gateway-User')
  if (ctx.caller.sub !== undefined) return ctx.caller.sub
  // The same rule as a JWT's sub (a too-long header was ignored, then the call "named no user").
  return v ? checkUserId('X-Gateway-User', headerText('X-Gateway-User', v)) : undefined
}

export function createResolveToken(userTokens?: UserTokenSource): Step {
  return {
    name: 'resolve_token',
    // Synchronous unless a per-user token must be looked up: no promise or microtask turn otherwise.
    run(ctx) {
      // The caller's word on the user stays here, in every spelling a backend reads as it; a copy
      // only when there is one (a delete would make the headers object a slow dictionary).
      ctx.outbound.headers = withoutShadows(ctx.outbound.headers, userHeaderShadow)
      const user = userOf(ctx)
      if (user !== undefined) ctx.auth.user = user
      const profile = ctx.endpoint.profile
      if (!profile) return
      const { mode, token, tokenSecret } = profile.config.token
      if (mode === 'static') ctx.auth.token = { token: token as string, tokenSecret: tokenSecret as string }
      if (mode !== 'per_user') return
      if (user === undefined) throw new GatewayError('caller_credentials_missing', `endpoint "${ctx.endpoint.name}" signs with each user's token: the call must say which user it is for`)
      if (!userTokens) throw new GatewayError('internal', `profile "${profile.name}" uses per-user tokens but no token store is configured`)
      // Only a header-named user was ever keyed by its Latin-1 reading (a JWT's sub is JSON: UTF-8).
      const formerId = ctx.caller.sub === undefined ? latin1Reading(user) : undefined
      return userTokens(profile, ctx, user, formerId).then((found) => {
        ctx.auth.token = found
      })
    },
  }
}
