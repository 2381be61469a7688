/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded:
 * Connection and every header it names, Proxy-*, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade. Host is set by the upstream client from the URL.
 */
import type { OutboundHeaders, ResponseStep, Step } from '../pipeline.js'

// `expect` too: the gateway answers 100-continue itself (the caller's connection), and
// undici refuses the header outright.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'expect'])

/**
 * The headers without the hop-by-hop ones, including those the Connection header names.
 * A filtered copy rather than `delete`s: deleting turns the object into a slow dictionary
 * for everything that reads it afterwards (undici, node:http), on every request.
 */
export function withoutHopByHop(headers: OutboundHeaders): OutboundHeaders {
  const connection = headers.connection
  // Runs twice per request: no arrays unless Connection names something.
  const named = connection === undefined ? undefined : (Array.isArray(connection) ? connection.join(',') : connection).split(',').map((s) => s.trim().toLowerCase())
  const kept: OutboundHeaders = {}
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (named !== undefined && named.includes(name))) continue
    kept[name] = headers[name] as string | string[]
  }
  return kept
}

export const stripRequestHopByHop: Step = {
  name: 'strip_hop_by_hop',
  run(ctx) {
    ctx.outbound.headers = withoutHopByHop(ctx.outbound.headers)
  },
}

export const stripResponseHopByHop: ResponseStep = {
  name: 'strip_hop_by_hop',
  run(_ctx, res) {
    res.headers = withoutHopByHop(res.headers)
  },
}
