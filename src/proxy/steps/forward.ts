/**
 * forward: the terminal step. Sends the prepared request over the endpoint's mTLS pool
 * and returns the response with its body still streaming. Every failure leaves as a
 * GatewayError with an upstream_* reason from the one handshake-error table.
 */
import type { Dispatcher } from 'undici'
import { classifyUpstreamError } from '../../tls/index.js'
import type { Admitted, OutboundHeaders, UpstreamResponse } from '../pipeline.js'
import { assertDestination } from '../upstream-target.js'

/** Sends ctx.outbound upstream; resolves at the response headers. */
export async function forwardUpstream(ctx: Admitted): Promise<UpstreamResponse> {
  const { outbound, endpoint } = ctx
  const buffered = outbound.body.buffered
  const headers = outbound.headers
  if (buffered) {
    headers['content-length'] = String(buffered.length)
    delete headers['transfer-encoding']
  }
  // Second line of defence: whatever the steps did, the destination is still the endpoint's.
  assertDestination(ctx.target, outbound.url)
  ctx.facts.trace?.upstream(headers, { endpoint: endpoint.name, url: outbound.url, method: outbound.method })
  const started = performance.now()
  let res: Dispatcher.ResponseData
  try {
    res = await ctx.upstream.dispatcher.request({
      origin: ctx.target.origin,
      path: outbound.url.pathname + outbound.url.search,
      method: outbound.method as Dispatcher.HttpMethod,
      headers,
      body: buffered ?? outbound.body.stream ?? null,
      signal: ctx.signal,
    })
  } catch (err) {
    throw classifyUpstreamError(err, endpoint.name)
  } finally {
    ctx.facts.upstreamMs = performance.now() - started
  }
  return { status: res.statusCode, headers: res.headers as OutboundHeaders, body: res.body }
}
