/**
 * One proxied request (forward proxy, route mode, or inside a CONNECT tunnel): the Context
 * built from the inbound request, the pipeline run, and the upstream answer piped back.
 * Its body is read only on demand (Expect: 100-continue) and whole-body reads are bounded
 * in time by the listener's guard.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Gateway } from '../gateway/index.js'
import { peerIdentity } from '../tls/index.js'
import { createBody, hasBody } from './body.js'
import { createCallerSignal } from './caller-signal.js'
import type { ConnectionGuard } from './connection-guard.js'
import type { Tunnel } from './connect.js'
import { responseCutShort, type Outcome } from './outcome.js'
import { handle, type Context, type Mode, type Pipeline, type UpstreamResponse } from './pipeline.js'
import type { RequestTarget } from './request-target.js'

/** One request as the proxy path sees it. */
export interface ProxyRun {
  pipeline: Pipeline
  guard: ConnectionGuard
  gateway: Gateway
  req: IncomingMessage
  res: ServerResponse
  id: string
  out: Outcome
  onDemand?: () => void
  /** Called by the listener's one 'close' listener when the response closes unfinished (the caller left). */
  callerGone?: () => void
}

/** Runs the request through the pipeline and pipes the upstream answer back. */
export async function proxyRequest(run: ProxyRun, mode: Mode, target: RequestTarget, route?: Context['route'], tunnel?: Tunnel): Promise<void> {
  const { gateway, req, res, id, out } = run
  const abort = createCallerSignal()
  let upstreamBody: UpstreamResponse['body'] | undefined
  run.callerGone = () => {
    abort.abort(new Error('caller went away'))
    upstreamBody?.destroy()
  }
  const length = req.headers['content-length']
  const headers = { ...(req.headers as Record<string, string | string[]>) }
  headers['x-request-id'] = id
  const ctx: Context = {
    id,
    mode,
    gateway,
    inbound: {
      method: req.method ?? 'GET',
      target,
      headers: req.headers,
      ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
      ...tlsFacts(req),
    },
    ...(route ? { route } : {}),
    ...(tunnel?.caller ? { tunnel: { caller: tunnel.caller, ...(tunnel.token !== undefined ? { token: tunnel.token } : {}) } } : {}),
    signal: abort.signal,
    facts: out.facts,
    auth: {},
    outbound: {
      method: req.method ?? 'GET',
      url: new URL('https://unrouted.invalid/'), // replaced by route with the endpoint's target
      headers,
      body: createBody(hasBody(req.headers) ? req : undefined, {
        limit: gateway.config.limits.maxBufferedBody,
        ...(length === undefined ? {} : { declaredLength: Number(length) }),
        ...(run.onDemand ? { onDemand: run.onDemand } : {}),
        onBuffer: () => run.guard.limitBufferedBody(req, res),
      }),
    },
  }
  const upstream = await handle(run.pipeline, ctx)
  upstream.headers['x-request-id'] = id
  res.writeHead(upstream.status, upstream.headers)
  // pipe() and events rather than stream.pipeline(): the same outcome without the
  // AbortController and DOMException pipeline() makes for every response. The upstream or
  // the caller breaking the stream mid-body cuts both sides (the 'close' handler above),
  // never crashes (run.callerGone); onDone reports when the response closes.
  upstreamBody = upstream.body
  run.guard.limitSend(req, res, upstreamBody)
  upstreamBody.once('error', (err) => {
    if (!res.writableFinished && !res.destroyed) out.error = responseCutShort(err, out.facts.endpoint, upstream.status)
    res.destroy()
  })
  res.once('error', () => upstream.body.destroy())
  if (res.destroyed) upstream.body.destroy()
  else upstream.body.pipe(res)
}

/** The caller's verified client certificate, when the listener serves TLS. */
function tlsFacts(req: IncomingMessage): { tls?: NonNullable<Context['inbound']['tls']> } {
  const peer = peerIdentity(req.socket)
  if (!peer) return {}
  return { tls: { authorized: peer.authorized, ...(peer.subjectCN !== undefined ? { subjectCN: peer.subjectCN } : {}), sans: peer.sans } }
}
