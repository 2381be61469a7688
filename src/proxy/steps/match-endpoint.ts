/**
 * route: which configured endpoint this request is for. Forward and CONNECT modes match
 * host:port (+ optional path prefix); route mode names the endpoint. No match → 403:
 * the gateway is never an open proxy.
 */
import { GatewayError } from '../../errors.js'
import type { Context, Routed } from '../pipeline.js'

/** Picks the endpoint and the upstream URL; throws endpoint_not_configured. */
export function matchEndpoint(ctx: Context): Routed {
  const { gateway } = ctx
  if (ctx.route) {
    const endpoint = gateway.endpoints.get(ctx.route.endpoint)
    if (!endpoint) throw new GatewayError('endpoint_not_configured', `endpoint "${ctx.route.endpoint}" is not configured`)
    ctx.outbound.url = new URL(endpoint.url + ctx.route.path)
    return { ...ctx, endpoint } as Routed
  }
  const target = ctx.inbound.target
  const port = target.port || '443'
  const key = `${target.hostname.toLowerCase()}:${port}`
  const candidates = gateway.byHost.get(key) ?? []
  const path = target.pathname
  const endpoint = candidates.find((e) => !e.config.pathPrefix || path === e.config.pathPrefix || path.startsWith(e.config.pathPrefix.replace(/\/?$/, '/')))
  if (!endpoint) throw new GatewayError('endpoint_not_configured', `host ${target.host} is not configured on this gateway`)
  const base = new URL(endpoint.url)
  ctx.outbound.url = new URL(target.pathname + target.search, base.origin)
  return { ...ctx, endpoint } as Routed
}
