/**
 * strip_gateway_credentials: a gateway bearer never reaches an upstream. The credential a
 * caller presents to the gateway (Proxy-Authorization, the CONNECT's, or Authorization in
 * route mode) is removed from every header it appears in, on every way in; in route mode
 * with caller apps configured, `Authorization: Bearer …` is the gateway's and never
 * forwarded. Runs before the OAuth signature is added, which owns Authorization after.
 */
import type { OutboundHeaders, Step } from '../pipeline.js'
import { presentedCredentials } from './authenticate-caller.js'

// Shorter strings could be ordinary header content; gateway bearers and JWTs are far longer.
const MIN_TOKEN_LENGTH = 16

function removeHeadersCarrying(headers: OutboundHeaders, tokens: readonly string[]): void {
  for (const name of Object.keys(headers)) {
    const v = headers[name]
    const text = Array.isArray(v) ? v.join('\n') : (v ?? '')
    if (tokens.some((t) => text.includes(t))) delete headers[name]
  }
}

export const stripGatewayCredentials: Step = {
  name: 'strip_gateway_credentials',
  run(ctx) {
    const h = ctx.outbound.headers
    if (ctx.mode === 'route' && ctx.gateway.callers.enabled && /^Bearer\s/i.test(String(h.authorization ?? ''))) delete h.authorization
    // From the inbound request: what the caller presented, not what is left of it outbound.
    const tokens = presentedCredentials(ctx).filter((t) => t.length >= MIN_TOKEN_LENGTH)
    if (tokens.length > 0) removeHeadersCarrying(h, tokens)
  },
}
