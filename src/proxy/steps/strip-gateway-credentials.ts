/**
 * strip_gateway_credentials: a gateway bearer never reaches an upstream. The credential a
 * caller presents to the gateway (Proxy-Authorization, the CONNECT's, or Authorization in
 * route mode) is removed from every header it appears in, on every way in; in route mode
 * with caller apps configured, `Authorization: Bearer …` is the gateway's and never
 * forwarded. Runs before the OAuth signature is added, which owns Authorization after.
 */
import type { OutboundHeaders, Step } from '../pipeline.js'

// Shorter strings could be ordinary header content; gateway bearers and JWTs are far longer.
const MIN_TOKEN_LENGTH = 16

function bearerIn(value: string | string[] | undefined): string | undefined {
  const s = Array.isArray(value) ? value[0] : value
  const m = s === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(s)
  return m?.[1] !== undefined && m[1].length >= MIN_TOKEN_LENGTH ? m[1] : undefined
}

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
    const inbound = ctx.inbound.headers
    const tokens: string[] = []
    const proxyBearer = bearerIn(inbound['proxy-authorization'])
    if (proxyBearer !== undefined) tokens.push(proxyBearer)
    if (ctx.tunnel?.token !== undefined) tokens.push(ctx.tunnel.token)
    if (ctx.mode === 'route' && ctx.gateway.callers.enabled && /^Bearer\s/i.test(String(h.authorization ?? ''))) {
      const direct = bearerIn(h.authorization)
      if (direct !== undefined) tokens.push(direct)
      delete h.authorization
    }
    if (tokens.length > 0) removeHeadersCarrying(h, tokens)
  },
}
