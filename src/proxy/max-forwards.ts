/**
 * Max-Forwards (RFC 9110 §7.6.2) on OPTIONS: a request that arrives with 0 must not be
 * forwarded, and its recipient answers as the final one; otherwise the gateway, one hop, sends
 * the value less one. Before, both went upstream untouched, so a caller probing the path hop
 * by hop got the backend's answer (with the endpoint's credentials attached) at every count.
 * TRACE never gets here (refused: its echo would hand back the credentials the gateway adds);
 * other methods may ignore the field, and do.
 */
import { GatewayError } from '../errors.js'
import { setGatewayHeader } from './gateway-headers.js'
import type { Admitted, ResponseBody, UpstreamResponse } from './pipeline.js'

/**
 * What a proxied request may use: every method Node parses but TRACE. RFC 9110 §9.3.8: a client
 * MUST NOT send sensitive fields in a TRACE request, whose response echoes them; the gateway would
 * add the endpoint's credentials (header fields, the OAuth Authorization) and hand them back.
 */
export const PROXY_METHODS: readonly [string, ...string[]] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/** The gateway's own OPTIONS answer has no body. */
const NO_BODY: ResponseBody = { relayTo: (res) => void res.end(), abort: () => undefined }

/**
 * For an OPTIONS with Max-Forwards: the gateway's own answer when the count is 0 (the methods it
 * forwards for this endpoint), else undefined with the outbound count one lower. A value that is
 * not a count is refused (as Apache's mod_proxy does): forwarded, no hop could act on it.
 */
export function answerAsLastHop(ctx: Admitted): UpstreamResponse | undefined {
  const given = ctx.inbound.headers['max-forwards']
  if (given === undefined) return undefined
  // Node keeps the first of repeated Max-Forwards fields; a list (never one at run time) is no count.
  const count = String(given).trim()
  if (!/^[0-9]+$/.test(count)) throw new GatewayError('bad_request', 'Max-Forwards must be a number of hops (RFC 9110, section 7.6.2)')
  const left = BigInt(count)
  if (left > 0n) return void setGatewayHeader(ctx.outbound, 'max-forwards', String(left - 1n))
  return { status: 200, headers: { allow: PROXY_METHODS.join(', '), 'content-length': '0' }, body: NO_BODY }
}
