/**
 * Via and X-Forwarded-For. Via is on by default (RFC 9110 asks proxies to add it);
 * X-Forwarded-For is off by default: backends authenticate the gateway's certificate,
 * and the bot runtime's internal addresses are nobody else's business (nor are the
 * Forwarded, X-Real-IP, X-Client-IP and the like a caller may send). X-Original-URL,
 * X-Rewrite-URL, X-Forwarded-Uri, X-Original-Uri and X-Forwarded-Path never pass, nor do the headers naming the origin a request was for
 * (X-Forwarded-Host and its kin; with X-Forwarded-For on, Forwarded's host and proto).
 *
 * A header the gateway sets or strips must not reach a backend in another spelling: CGI-style
 * backends (PHP, WSGI, Rack, lighttpd) read a caller's `X_Forwarded_For` or `x-real.ip` as
 * HTTP_X_FORWARDED_FOR / HTTP_X_REAL_IP (gateway-headers.ts), so those go too.
 */
import { clientAddressesOnly } from '../forwarded-header.js'
import { unmappedAddress } from '../caller-address.js'
import { BODY_FRAMING, cgiShadowTest, withoutHeaders, withoutShadows } from '../gateway-headers.js'
import type { OutboundHeaders, ResponseStep, Step } from '../pipeline.js'

const VIA = '1.1 mtls-gateway'

// What the gateway sets on every request: X-Request-Id (the listener), Via and X-Forwarded-For
// (here), traceparent and tracestate (the upstream call, when tracing is on). The all-alphanumeric
// ones have no CGI spelling but their own; listing them keeps the rule whole at no cost.
const GATEWAY_SET = ['x-request-id', 'via', 'x-forwarded-for', 'traceparent', 'tracestate']
// The client address in every name a backend may take it from (PHP apps read HTTP_CLIENT_IP and
// HTTP_X_CLIENT_IP; CDNs set True-Client-IP); with X-Forwarded-For off, none travels.
const CLIENT_ADDRESS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'client-ip', 'x-forwarded', 'forwarded-for', 'x-cluster-client-ip']
// Never a caller's: IIS, Symfony and Zend route by these when they trust the proxy, so a backend
// would serve another path than the one the gateway checked.
// The same for the origin: Symfony, Django, Rails, Spring's ForwardedHeaderFilter and Rack take the
// host, port, scheme and path prefix they serve from these behind a trusted proxy, so a backend
// would serve another host or tenant than the one whose credentials the gateway attached. The
// gateway's own word on the origin is Host, the endpoint's (it adds none of these).
const ORIGIN = ['x-forwarded-host', 'x-host', 'x-original-host', 'x-forwarded-server', 'x-forwarded-prefix', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-scheme', 'x-forwarded-ssl', 'x-url-scheme', 'front-end-https']
// The request URL or path a proxy in front passes on: IIS (X-Original-URL, X-Rewrite-URL), Traefik
// forward-auth (X-Forwarded-Uri), nginx auth_request setups (X-Original-Uri), X-Forwarded-Path.
const ROUTING = ['x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-original-uri', 'x-forwarded-path']
const ALWAYS = [...ROUTING, ...ORIGIN]

// The body's type, length and coding travel in their own spelling only (gateway-headers.ts).
// Built once: the step runs them over every request's headers.
const dropWhenOn = cgiShadowTest([...GATEWAY_SET, ...BODY_FRAMING, ...ALWAYS], ALWAYS)
const dropWhenOff = cgiShadowTest([...GATEWAY_SET, ...BODY_FRAMING, ...CLIENT_ADDRESS, ...ALWAYS], [...CLIENT_ADDRESS, ...ALWAYS])

function appendHeader(current: string | string[] | undefined, value: string): string {
  const prior = Array.isArray(current) ? current.join(', ') : current
  return prior ? `${prior}, ${value}` : value
}

export const addForwardingHeaders: Step = {
  name: 'forwarding_headers',
  run(ctx) {
    const { forwarding } = ctx.gateway.config
    // As the gateway names the caller everywhere (caller-address.ts): an IPv4 caller of `::` as its IPv4 address.
    const address = forwarding.xForwardedFor ? ctx.inbound.remoteAddress : undefined
    const remote = address && unmappedAddress(address)
    // Off means no client address in any spelling: what a caller wrote in these is not the
    // gateway's word, and a backend trusting one would be told whatever the caller liked.
    const h = (ctx.outbound.headers = withoutShadows(ctx.outbound.headers, remote ? dropWhenOn : dropWhenOff))
    if (forwarding.via) h.via = appendHeader(h.via, VIA)
    if (remote) h['x-forwarded-for'] = appendHeader(h['x-forwarded-for'], remote)
    if (remote) keepClientAddressesOfForwarded(ctx.outbound)
  },
}

const isForwarded = (name: string): boolean => name.length === 9 && name.toLowerCase() === 'forwarded'

/**
 * With the address on, a caller's Forwarded travels with its client addresses only
 * (forwarded-header.ts), under its own name: one in another case is the same CGI variable.
 */
function keepClientAddressesOfForwarded(outbound: { headers: OutboundHeaders }): void {
  const values: string[] = []
  for (const name in outbound.headers) if (isForwarded(name)) values.push(...[outbound.headers[name] as string | string[]].flat())
  if (values.length === 0) return
  const kept = clientAddressesOnly(values)
  outbound.headers = withoutHeaders(outbound.headers, isForwarded)
  if (kept !== undefined) outbound.headers.forwarded = kept
}

export const addResponseVia: ResponseStep = {
  name: 'response_via',
  run(ctx, res) {
    if (ctx.gateway.config.forwarding.via) res.headers.via = appendHeader(res.headers.via, VIA)
  },
}
