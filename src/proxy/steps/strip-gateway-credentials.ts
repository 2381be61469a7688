/**
 * strip_gateway_credentials: a gateway bearer never reaches an upstream. The credential a
 * caller presents to the gateway (Proxy-Authorization, the CONNECT's, or Authorization in
 * route mode) is removed from every header it appears in, in any letter case (callers'
 * credential-text.ts), on every way in; so is every header
 * (by name or value) holding a bearer this release issued, whoever's, known by its spelling
 * (callers' bearer-shape.ts) without a store lookup. In route mode with caller apps
 * configured, `Authorization: Bearer …` is the gateway's and never forwarded. A request target
 * holding either is refused (400 credential_in_target): the URL goes upstream whole; so is an
 * outbound URL that holds one once the gateway has placed the tenant, the user and fields in it
 * (refuseCredentialInOutbound, judged by the forward step before anything is dialled). Bodies are
 * the backend's payload and not read. Runs before the OAuth signature is added, which owns
 * Authorization after.
 */
import { GatewayError } from '../../errors.js'
import { carriesCredential, credentialsToLookFor, judgeOutboundUrl, urlCarriesCredential, type OwnCredentials } from '../../callers/index.js'
import type { Admitted, Context, OutboundHeaders, Step } from '../pipeline.js'
import { presentedCredentials } from './authenticate-caller.js'

/**
 * Removes every header whose name or value holds a credential. Names are judged as sent (the raw
 * lines): the outbound copy's are lower-cased, which hides a bearer without making it unreadable.
 */
function removeHeadersCarrying(headers: OutboundHeaders, rawHeaders: readonly string[], own: OwnCredentials): void {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    if (carriesCredential(name, own)) delete headers[name.toLowerCase()]
  }
  for (const name of Object.keys(headers)) {
    const v = headers[name]
    // Each line judged alone: no joined copy per header.
    if (Array.isArray(v) ? v.some((line) => carriesCredential(line, own)) : v !== undefined && carriesCredential(v, own)) delete headers[name]
  }
}

/** Refuses a target whose path or query, as sent or percent-decoded, holds a credential (never named in the message). */
function refuseCredentialIn(part: string, what: 'path' | 'query', own: OwnCredentials): void {
  if (urlCarriesCredential(part, own)) {
    throw new GatewayError('credential_in_target', `the request target's ${what} holds a gateway credential, which would reach the upstream with the URL: send it in Proxy-Authorization (route mode: Authorization) only, never in the URL`)
  }
}

/** The credentials the request itself presents that are long enough to look for (MIN_TOKEN_LENGTH), lower-cased: found once per request. */
function ownCredentials(ctx: Context): OwnCredentials {
  // From the inbound request: what the caller presented, not what is left of it outbound.
  return (ctx.ownCredentials ??= credentialsToLookFor(presentedCredentials(ctx)))
}

/**
 * Refuses the request the gateway is about to send when its URL (`origin`: scheme, host, port, the
 * target's as built, never parsed back; `pathAndQuery`) holds a credential: the tenant, the user,
 * fields and claims placed by the gateway are the caller's choice too, and a host name goes to DNS.
 * The same check as the dance's token and authorize URLs (callers' judgeOutboundUrl).
 */
export function refuseCredentialInOutbound(ctx: Admitted, origin: string, pathAndQuery: string): void {
  judgeOutboundUrl({ origin, href: origin + pathAndQuery }, ctx.target.origin, ownCredentials(ctx), 'the URL the gateway would send upstream', ctx.targetJudged ? ctx.inbound.target : undefined)
}

export const stripGatewayCredentials: Step = {
  name: 'strip_gateway_credentials',
  run(ctx) {
    const h = ctx.outbound.headers
    if (ctx.mode === 'route' && ctx.gateway.callers.enabled && /^Bearer\s/i.test(String(h.authorization ?? ''))) delete h.authorization
    const own = ownCredentials(ctx)
    const { path, query } = ctx.inbound.target
    refuseCredentialIn(path, 'path', own)
    refuseCredentialIn(query, 'query', own)
    ctx.targetJudged = true
    removeHeadersCarrying(h, ctx.inbound.rawHeaders, own)
  },
}
