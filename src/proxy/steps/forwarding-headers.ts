/**
 * Via and X-Forwarded-For. Via is on by default (RFC 9110 asks proxies to add it);
 * X-Forwarded-For is off by default: backends authenticate the gateway's certificate,
 * and the bot runtime's internal addresses are nobody else's business (nor are the
 * Forwarded and X-Real-IP a caller may send).
 */
import type { ResponseStep, Step } from '../pipeline.js'

const VIA = '1.1 mtls-gateway'

function appendHeader(current: string | string[] | undefined, value: string): string {
  const prior = Array.isArray(current) ? current.join(', ') : current
  return prior ? `${prior}, ${value}` : value
}

export const addForwardingHeaders: Step = {
  name: 'forwarding_headers',
  run(ctx) {
    const { forwarding } = ctx.gateway.config
    const h = ctx.outbound.headers
    if (forwarding.via) h.via = appendHeader(h.via, VIA)
    if (forwarding.xForwardedFor && ctx.inbound.remoteAddress) h['x-forwarded-for'] = appendHeader(h['x-forwarded-for'], ctx.inbound.remoteAddress)
    else {
      // Off means no client address in any spelling: what a caller wrote in these is not the
      // gateway's word, and a backend trusting one would be told whatever the caller liked.
      delete h['x-forwarded-for']
      delete h.forwarded
      delete h['x-real-ip']
    }
  },
}

export const addResponseVia: ResponseStep = {
  name: 'response_via',
  run(ctx, res) {
    if (ctx.gateway.config.forwarding.via) res.headers.via = appendHeader(res.headers.via, VIA)
  },
}
