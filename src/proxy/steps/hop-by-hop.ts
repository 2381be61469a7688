/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded:
 * Connection and every header it names, Proxy-*, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade. Host is set by the upstream client from the URL.
 */
import type { OutboundHeaders, ResponseStep, Step } from '../pipeline.js'

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings'])

/** Removes hop-by-hop headers in place, including those the Connection header names. */
export function removeHopByHop(headers: OutboundHeaders): void {
  const connection = headers.connection
  // Runs twice per request: no arrays unless Connection names something.
  const named = connection === undefined ? undefined : (Array.isArray(connection) ? connection.join(',') : connection).split(',').map((s) => s.trim().toLowerCase())
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (named !== undefined && named.includes(name))) delete headers[name]
  }
}

export const stripRequestHopByHop: Step = {
  name: 'strip_hop_by_hop',
  run(ctx) {
    removeHopByHop(ctx.outbound.headers)
  },
}

export const stripResponseHopByHop: ResponseStep = {
  name: 'strip_hop_by_hop',
  run(_ctx, res) {
    removeHopByHop(res.headers)
  },
}
