/**
 * The caller side's families: requests being served, client connections closed by a listener
 * limit or refused, and file descriptors running out.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import { ACCEPTING_LISTENERS, CONNECTION_REFUSAL_LABELS, CONSOLE_REFUSALS, FD_EXHAUSTION_SITES } from './label-sets.js'
import type { Metrics } from './metrics.js'

/** Registers the caller-side families on `registers` and returns their recorders. */
export function createClientMetrics(registers: Registry[]): Pick<Metrics, 'inFlight' | 'clientTimeout' | 'connectionRefused' | 'fdExhausted' | 'consoleRefusal'> {
  let inFlightNow = 0
  new Gauge({ name: 'mtls_gateway_requests_in_flight', help: 'Requests being served.', registers, collect() { this.set(inFlightNow) } })
  const timeouts = new Counter({ name: 'mtls_gateway_client_timeouts_total', help: 'Client connections closed by a listener limit, by listener and reason.', labelNames: ['listener', 'reason'] as const, registers })
  const refused = new Counter({ name: 'mtls_gateway_connections_refused_total', help: 'New client connections refused, by listener and reason.', labelNames: ['listener', 'reason'] as const, registers })
  const fd = new Counter({ name: 'mtls_gateway_fd_exhausted_total', help: 'Times the process ran out of file descriptors, by where (accept, request).', labelNames: ['where'] as const, registers })
  const consoleRefused = new Counter({ name: 'mtls_gateway_console_refusals_total', help: 'Console requests refused before any sign-in (cross-origin POSTs, wrong admin tokens, throttled sign-ins), by reason: every one, their log lines capped.', labelNames: ['reason'] as const, registers })
  for (const listener of ACCEPTING_LISTENERS) for (const r of CONNECTION_REFUSAL_LABELS) refused.labels(listener, r).inc(0)
  for (const r of CONSOLE_REFUSALS) consoleRefused.labels(r).inc(0)
  for (const where of FD_EXHAUSTION_SITES) fd.labels(where).inc(0)
  return {
    inFlight: (delta) => void (inFlightNow += delta),
    clientTimeout: (listener, reason) => timeouts.labels(listener, reason).inc(),
    connectionRefused: (listener, reason) => refused.labels(listener, reason).inc(),
    fdExhausted: (where) => fd.labels(where).inc(),
    consoleRefusal: (reason) => consoleRefused.labels(reason).inc(),
  }
}
