/**
 * One proxied request (forward proxy, route mode, or inside a CONNECT tunnel): the Context
 * built from the inbound request, the pipeline run, and the upstream answer piped back.
 * Its body is read only on demand (Expect: 100-continue) and whole-body reads are bounded
 * in time by the listener's guard and in memory by the process's budget (openHold).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { methodNotAllowed } from '../errors.js'
import type { Gateway } from '../gateway/index.js'
import { createBody, hasBody, type BodyOptions } from './body.js'
import { Presence } from './caller-presence.js'
import type { ConnectionGuard } from './connection-guard.js'
import type { Tunnel } from './connect.js'
import { responseCutShort, type Outcome } from './outcome.js'
import { scopeRouteCookies } from './steps/scope-route-cookies.js'
import type { Admitted, Context, Mode, Pipeline, UpstreamResponse } from './pipeline.js'
import type { RequestTarget } from './request-target.js'
import { isAnswer, prepare, respond } from './pipeline-run.js'
import { endWaitingBehindCut } from './pipelined.js'
import type { RelayHooks } from './relay-hooks.js'
import type { BodyHold, BufferedBodies } from '../runtime/index.js'
import { outboundCopy } from './steps/hop-by-hop.js'
import { scrubEchoedQueryFields } from './echoed-fields.js'
import { routeEchoedUris } from './route-locations.js'
import { PROXY_METHODS } from './max-forwards.js'
import { cgiShadowTest } from './gateway-headers.js'
import { OutboundRequest } from './outbound-request.js'
import { callerAddress } from './caller-address.js'
import { requestCertificate } from './caller-connection.js'

/** One request as the proxy path sees it. */
export interface ProxyRun {
  pipeline: Pipeline
  guard: ConnectionGuard
  gateway: Gateway
  req: IncomingMessage
  res: ServerResponse
  id: string
  out: Outcome
  onDemand: (() => void) | undefined
  /** A proxied call's caller: the listener's one 'close' listener tells it when the response closes unfinished (the caller left). */
  presence?: Presence
  /** The caller's address as read for the context: Node keeps a socket's once read, so the record takes it from here rather than reading it again. */
  clientAddress?: string
}

/** Headers frameworks read as the method instead of the request line's (Express's method-override, Symfony, ASP.NET Core, Rails' Rack::MethodOverride). */
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const

/** The override headers and their CGI spellings (X_HTTP_Method_Override), which PHP, Rack and WSGI read as the same. */
const isOverride = cgiShadowTest(METHOD_OVERRIDES, METHOD_OVERRIDES)

/** True when a method-override header, however spelled, asks for TRACE (or TRACK), in any case or list. */
function overridesToTrace(headers: IncomingMessage['headers']): boolean {
  for (const name in headers) {
    if (!isOverride(name)) continue
    const v = headers[name]
    if (v !== undefined && /(^|[\s,])trac[ek]\s*($|,)/i.test(Array.isArray(v) ? v.join(',') : v)) return true
  }
  return false
}

/**
 * Runs the request through the pipeline and relays the upstream answer back. Not async: only the part that waits is (proxied),
 * its suspended frame (kept per request until the answer) holding a few registers rather than all of this one's; a refusal here throws at once.
 */
export function proxyRequest(run: ProxyRun, mode: Mode, target: RequestTarget, route?: Context['route'], tunnel?: Tunnel): Promise<void> {
  const { gateway, req, res, id, out } = run
  if (req.method === 'TRACE') throw methodNotAllowed(PROXY_METHODS, 'TRACE is not forwarded, as its response would echo the credentials the gateway adds (RFC 9110 §9.3.8)')
  // The same through a method override a backend framework would honour.
  if (overridesToTrace(req.headers)) throw methodNotAllowed(PROXY_METHODS, 'a method override to TRACE is not forwarded, as its response would echo the credentials the gateway adds (RFC 9110 §9.3.8)')
  const presence = (run.presence = new Presence())
  // One copy, already without the fixed hop-by-hop names: the strip step then rarely copies again.
  const headers = outboundCopy(req.headers)
  headers['x-request-id'] = id
  // Optional fields are assigned, not spread in: a conditional spread allocates and copies per request.
  const inbound: Writable<Context['inbound']> = { method: req.method ?? 'GET', target, headers: req.headers, rawHeaders: req.rawHeaders }
  const remoteAddress = callerAddress(req.socket)
  if (remoteAddress) inbound.remoteAddress = run.clientAddress = remoteAddress
  const tls = requestCertificate(req, tunnel)
  if (tls) inbound.tls = tls
  // Only a request with a body reads, buffers or asks for one: no options or holder for the bodiless majority.
  const withBody = hasBody(req.headers)
  const held: HeldBody | undefined = withBody ? { hold: undefined } : undefined
  const bodyOptions = held ? streamedBodyOptions(run, held) : BODILESS
  const ctx: Writable<Context> = {
    id,
    mode,
    gateway,
    inbound,
    presence,
    facts: out.facts,
    auth: {},
    // Its URL is route's target, parsed only if a step reads it.
    outbound: new OutboundRequest(req.method ?? 'GET', headers, createBody(withBody ? req : undefined, bodyOptions)),
  }
  if (route) ctx.route = route
  if (tunnel?.caller) {
    ctx.tunnel =
      tunnel.token !== undefined ? { caller: tunnel.caller, token: tunnel.token } : tunnel.certificate ? { caller: tunnel.caller, certificate: tunnel.certificate() } : { caller: tunnel.caller }
  }
  return proxied(run, ctx, held)
}

/** The body's share of the budget, once buffering opened one (streamedBodyOptions). */
type HeldBody = { hold: BodyHold | undefined }

/** `ctx` through the pipeline (its phases awaited here, not in an async function of their own: pipeline-run.ts), and the answer relayed. */
async function proxied(run: ProxyRun, ctx: Context, held: HeldBody | undefined): Promise<void> {
  let upstream: UpstreamResponse
  try {
    const prepared = prepare(run.pipeline, ctx)
    const ready = prepared instanceof Promise ? await prepared : prepared
    upstream = isAnswer(ready) ? ready : respond(run.pipeline, ready, await run.pipeline.forward(ready))
  } finally {
    // The upstream has answered (or the request failed): the body is no longer needed for it.
    held?.hold?.release()
  }
  // Route mode's cookie scoping, after the pipeline's respond steps: here every route-mode
  // response gets it whatever pipeline the listener was given, and a third entry in the respond
  // list cost Node 24's realistic path 3-5 % in paired windows (docs/performance.md, session 18).
  if (ctx.mode === 'route') scopeRouteCookies.run(ctx as Context as Admitted, upstream)
  // A redirect or link that echoes the query the gateway built must not hand the caller its fields.
  const h = upstream.headers
  if (h.location !== undefined || h['content-location'] !== undefined || h.link !== undefined || h.refresh !== undefined) editEchoedUris(ctx as Context as Admitted, h)
  relayAnswer(run, upstream)
}

/** The limits and hooks of a request's body; `held` learns of its share of the budget when buffering opens one. */
function streamedBodyOptions(run: ProxyRun, held: HeldBody): BodyOptions {
  const { gateway, req, res } = run
  const length = req.headers['content-length']
  const o: BodyOptions = { limit: gateway.config.limits.maxBufferedBody, onBuffer: () => run.guard.limitBufferedBody(req, res) }
  if (length !== undefined) o.declaredLength = Number(length)
  if (run.onDemand) o.onDemand = run.onDemand
  const budget = run.pipeline.bufferedBodies
  if (budget) o.hold = () => { const hold = openHold(budget, gateway.config.limits.maxBufferedTotal, res); held.hold = hold; return hold }
  return o
}

/** The upstream's answer into the caller's response: its head, then its body as it arrives. */
function relayAnswer(run: ProxyRun, upstream: UpstreamResponse): void {
  const { req, res, id, out } = run
  const upstreamBody = upstream.body
  if (res.destroyed) return upstreamBody.abort(new Error('caller went away'))
  // The body failed in the head's own read (a bad chunk, a close short of the Content-Length): nothing is
  // sent yet, so the caller gets the gateway's 502 rather than the backend's head and then a cut.
  const failed = upstreamBody.failure
  if (failed) throw responseCutShort(failed, out.facts.endpoint, upstream.status, false)
  upstream.headers['x-request-id'] = id
  res.writeHead(upstream.status, upstream.headers)
  // The caller's response failing (a write after its socket broke) stops the upstream call;
  // the caller leaving is the listener's 'close' (run.presence).
  res.on('error', (err) => upstreamBody.abort(err))
  // All arrived with its head (most small answers): sent and ended at once, so no stall clock or cut can follow and none is made.
  if (upstreamBody.whole === true) return upstreamBody.relayTo(res)
  const stall = run.guard.limitSend(req, res)
  // Cut, the caller's connection goes with it: what waits behind it there was never served.
  const hooks: RelayHooks = { onCut: (err) => endWaitingBehindCut(res, (out.error = responseCutShort(err, out.facts.endpoint, upstream.status))) }
  if (stall) hooks.stall = stall
  upstreamBody.relayTo(res, hooks)
}

/** The response's URI headers: the query the gateway added removed, then (route mode) the backend's own URLs mapped onto the route. */
function editEchoedUris(ctx: Admitted, headers: UpstreamResponse['headers']): void {
  scrubEchoedQueryFields(ctx, headers)
  // After the scrub, so nothing it removed comes back.
  if (ctx.mode === 'route') routeEchoedUris(ctx, headers)
}

/**
 * Opens this request's share of the budget. Released after the pipeline ran (proxyRequest's
 * finally) or when the response closes, whichever comes first: every response closes once,
 * however the request ends (answered, refused, caller gone, a limit's 408), so no way of
 * ending can leak bytes that would slowly lock every caller out.
 */
function openHold(budget: BufferedBodies, limit: number, res: ServerResponse): BodyHold {
  const hold = budget.hold(limit)
  // A response already over may have emitted its 'close': charge nothing then.
  if (res.destroyed || res.writableEnded) hold.release()
  else res.once('close', hold.release)
  return hold
}

/**
 * A bodiless request's body options: nothing reads them (a body without a stream asks for nothing,
 * buffers nothing and is empty), so no request makes its own.
 */
const BODILESS: BodyOptions = { limit: 0 }

/** A phase object while it is being put together. */
type Writable<T> = { -readonly [K in keyof T]: T[K] }
