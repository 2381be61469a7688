/**
 * A request whose turn came (listener.ts), served under the snapshot it pinned, by the way it
 * came in: an intercepted tunnel's inner request, the forward proxy, route mode or the gateway
 * API; anything else has no route.
 */
import type { IncomingMessage } from 'node:http'
import { GatewayError } from '../errors.js'
import { singleHeader } from '../callers/index.js'
import { checkWayIn } from '../gateway/index.js'
import type { Tunnel } from './connect.js'
import type { ListenerOptions } from './listener.js'
import type { Outcome } from './outcome.js'
import { proxyRequest, type ProxyRun } from './proxy-request.js'
import { parseAbsoluteForm, parseRoute, parseTunnelTarget } from './request-target.js'

/**
 * Serves a request whose turn came, under the snapshot `run` pinned, by the way it came in. Not
 * async: a proxied request's promise is proxyRequest's own (an async wrapper returning it cost a
 * promise and two microtask turns per request); a refusal found here, or in building its context, throws to the listener at once.
 */
export function serveWay(o: Pick<ListenerOptions, 'api' | 'tracing'>, run: ProxyRun, way: Outcome['mode'], tunnel: Tunnel | undefined): Promise<void> {
  const { req } = run
  const url = req.url ?? '/'
  // Before the target is parsed, an endpoint matched or a credential attached (listen.waysIn).
  checkWayIn(run.gateway, way)
  if (tunnel) return proxyRequest(run, 'connect', parseTunnelTarget(url, tunnel.authority, singleHeader(req, 'host', 'Host'), req.method), undefined, tunnel)
  if (way === 'forward') return proxyRequest(run, 'forward', parseAbsoluteForm(url))
  if (way === 'route') {
    const { route, target } = parseRoute(url)
    return proxyRequest(run, 'route', target, route)
  }
  if (way !== 'api' || !o.api) throw noRoute(req, url)
  return serveApi(o.api, o.tracing, run, url)
}

/** A `/gateway/…` request: the API's own handler, its body read whole (bounded in time as well as in size). */
async function serveApi(api: NonNullable<ListenerOptions['api']>, tracing: ListenerOptions['tracing'], run: ProxyRun, url: string): Promise<void> {
  const { req, res, gateway, id } = run
  run.guard.limitBufferedBody(req, res)
  run.onDemand?.()
  const trace = run.out.facts.trace
  const served = trace && tracing ? tracing.api(trace, () => api(req, res, gateway, id)) : api(req, res, gateway, id)
  if (!(await served)) throw noRoute(req, url)
}

/** The 404 of a request outside every way in. */
function noRoute(req: IncomingMessage, url: string): GatewayError {
  const method = req.method ?? 'GET'
  const how = 'use an absolute URL (forward proxy), /proxy/<endpoint>/… or /gateway/…'
  // The caller is told its path; the log is not: a caller that forgot its proxy sends the
  // backend's path (an account number, a token) here, and access lines carry no paths.
  return new GatewayError('not_found', `no route for this ${method} request (its path is outside /proxy/ and /gateway/): ${how}`, { callerMessage: `no route for ${method} ${url.split('?')[0] ?? ''}: ${how}` })
}
