/**
 * forward: the terminal step. Sends the prepared request over the endpoint's mTLS pool
 * and resolves at the response head, the body still arriving (an UpstreamCall relays it).
 * Every failure leaves as a GatewayError with an upstream_* reason from the one
 * handshake-error table. A request that a second copy cannot harm is sent again when a
 * reused connection closes under it (stale-connection.ts).
 */
import type { Dispatcher } from 'undici'
import { GatewayError } from '../../errors.js'
import { classifyUpstreamError } from '../../tls/index.js'
import type { Admitted, UpstreamResponse } from '../pipeline.js'
import { isReplayable } from '../stale-connection.js'
import { mayBeNginxRefusal, nginxRefusal, nginxRefusalText } from '../nginx-refusal.js'
import { UpstreamCall } from '../upstream-call.js'
import { destinationPathAndQuery } from '../outbound-request.js'
import { dispatchPath } from '../asterisk-form.js'
import { unreadTransferCoding } from '../transfer-coding.js'
import { refuseCredentialInOutbound } from './strip-gateway-credentials.js'

/** Sends ctx.outbound upstream; resolves at the response headers. */
export function forwardUpstream(ctx: Admitted): Promise<UpstreamResponse> {
  const { outbound, endpoint } = ctx
  const buffered = outbound.body.buffered
  const headers = outbound.headers
  if (buffered) {
    headers['content-length'] = String(buffered.length)
    delete headers['transfer-encoding']
  }
  // Second line of defence: whatever the steps did, the destination is still the endpoint's.
  const path = dispatchPath(ctx, destinationPathAndQuery(ctx.target, outbound))
  // What is dialled and sent, as it will be: refused before any connection or DNS lookup.
  refuseCredentialInOutbound(ctx, ctx.target.origin, path)
  ctx.facts.trace?.upstream(headers, { endpoint: endpoint.name, server: ctx.target.server, method: outbound.method })
  const body = buffered ?? outbound.body.stream ?? null
  const request: Dispatcher.DispatchOptions = {
    origin: ctx.target.origin,
    path,
    method: outbound.method as Dispatcher.HttpMethod,
    headers,
    body,
  }
  const replayable = isReplayable(outbound.method, headers, body === null ? 'none' : buffered ? 'held' : 'streamed')
  return new Promise((settle, reject) => {
    const resolve = (res: UpstreamResponse): void => settleAnswer(res, call, { endpoint: endpoint.name, method: outbound.method }, settle, reject)
    const send = (call: UpstreamCall): void => {
      try {
        ctx.upstream.dispatch(request, call)
      } catch (err) {
        // Refused before the pool saw it (a degraded bundle).
        ctx.facts.upstreamMs ??= 0
        reject(classifyUpstreamError(err, endpoint.name))
      }
    }
    const call = new UpstreamCall(endpoint.name, ctx.facts, resolve, reject, replayable ? send : undefined, endpoint.config.timeouts.responseMs, buffered ? null : (outbound.body.stream ?? null))
    ctx.presence.onGone((reason) => call.abort(reason))
    send(call)
  })
}

/** Settles with the answer at its head, unless it stands for a refusal (a 407, nginx refusing the client certificate) or cannot be relayed as it is. */
function settleAnswer(res: UpstreamResponse, call: UpstreamCall, sent: { endpoint: string; method: string }, settle: (r: UpstreamResponse) => void, reject: (e: unknown) => void): void {
  const { endpoint } = sent
  if (res.status === 407) return refuseProxyChallenge(res, endpoint, reject)
  if (res.status < 100 || res.status > 599) return refuse(res, reject, new GatewayError('upstream_response_malformed', `endpoint "${endpoint}": malformed HTTP response: status ${res.status} is outside 100-599, the only status codes HTTP defines (RFC 9110, section 15)`))
  const coding = carriesBody(res.status, sent.method) ? unreadTransferCoding(res.headers['transfer-encoding']) : undefined
  if (coding !== undefined) return refuseTransferCoding(res, endpoint, coding, reject)
  // Only a 400 whose head fits nginx's page is held (whole, small); every other answer streams on untouched.
  if (res.status === 400 && mayBeNginxRefusal(res.headers)) return void readNginxRefusal(call, res, endpoint).then(settle, reject)
  settle(res)
}

/**
 * An upstream 407 is a challenge to the gateway, its client (RFC 9110 §11.7.1: Proxy-Authenticate
 * applies only to the next outbound client), and the gateway has no credentials for it; relayed,
 * a forward-proxy caller would take it for the gateway's own challenge and send its bearer again.
 */
function refuseProxyChallenge(res: UpstreamResponse, endpoint: string, reject: (err: GatewayError) => void): void {
  refuse(res, reject, new GatewayError('upstream_proxy_auth_required', `endpoint "${endpoint}": the backend answered 407 Proxy Authentication Required, a challenge to the gateway, which holds no credentials for a proxy there (a caller's are never sent upstream)`))
}

/** Stops the answer's body and fails the call with `err`. */
function refuse(res: UpstreamResponse, reject: (err: GatewayError) => void, err: GatewayError): void {
  res.body.abort(err)
  reject(err)
}

/** A 204, a 304 and a HEAD's answer have no body (RFC 9112 §6.3): their Transfer-Encoding frames nothing. */
const carriesBody = (status: number, method: string): boolean => status !== 204 && status !== 304 && method !== 'HEAD'

/**
 * undici de-chunks `gzip, chunked` (and reads `gzip` alone to the connection's close) and the respond
 * step drops Transfer-Encoding as hop-by-hop: relayed, the caller would read the gzip bytes as the
 * body. nginx answers such a backend 502 too ("upstream sent unknown Transfer-Encoding").
 */
function refuseTransferCoding(res: UpstreamResponse, endpoint: string, coding: string, reject: (err: GatewayError) => void): void {
  refuse(res, reject, new GatewayError('upstream_response_malformed', `endpoint "${endpoint}": malformed HTTP response (Transfer-Encoding "${coding}"): the gateway decodes only the chunked transfer coding, and relayed without the others the caller would read their bytes as the body (RFC 9112, section 6.1)`))
}

/** nginx refusing the client certificate over HTTP (nginx-refusal.ts) throws; any other 400 is `res`, its held bytes relayed unchanged. */
async function readNginxRefusal(call: UpstreamCall, res: UpstreamResponse, endpoint: string): Promise<UpstreamResponse> {
  const body = await call.heldBody()
  const text = body && nginxRefusalText(body)
  if (text !== undefined) throw nginxRefusal(endpoint, text)
  return res
}
