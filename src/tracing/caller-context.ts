/**
 * A caller's W3C Trace Context (traceparent, tracestate) as the gateway reads it, and the propagator
 * that writes the gateway's own (spans.ts).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Context } from '@opentelemetry/api'
import { TraceState, W3CTraceContextPropagator } from '@opentelemetry/core'
import type { HeaderMap } from './spans.js'

export const propagator = new W3CTraceContextPropagator()
const getter = {
  keys: (h: IncomingHttpHeaders): string[] => Object.keys(h),
  // A tracestate naming a key twice is no W3C list (the propagator would merge it: the first place, the last value): none.
  get: (h: IncomingHttpHeaders, key: string): string | string[] | undefined => (key === 'tracestate' && namesAKeyTwice(h.tracestate) ? undefined : h[key]),
}

/** Whether a tracestate's valid list members (those the propagator keeps; comma-separated, optional spaces) repeat a key. */
function namesAKeyTwice(state: string | string[] | undefined): boolean {
  const keys = [state ?? ''].flat().join(',').split(',').flatMap((m) => (new TraceState(m).serialize() === '' ? [] : [m.slice(0, m.indexOf('=')).trim()]))
  return new Set(keys).size !== keys.length
}

/** Writes the gateway's context into outbound headers. */
export const setter = { set: (h: HeaderMap, key: string, value: string): void => void (value !== '' && (h[key] = value)) } // a tracestate with no valid member is '': W3C asks not to send it

/**
 * The caller's W3C context (traceparent/tracestate) on top of `base`, if it sent a valid one. Node joins two
 * traceparent lines with ", " (W3C: no context, a new trace); a future version's fields (§3.2.4) would take
 * the join as theirs, so a traceparent with a comma, never one value, is none.
 */
export function callerContext(headers: IncomingHttpHeaders, base: Context): Context {
  const traceparent = headers.traceparent
  return traceparent === undefined || traceparent.includes(',') ? base : propagator.extract(base, headers, getter)
}
