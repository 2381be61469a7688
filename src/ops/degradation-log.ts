/**
 * `endpoint degraded` and `interception degraded`: conditions that come with time (a certificate
 * expires, or is not valid yet) or with a config. Each is said when it starts and its recovery
 * once when it ends, per instance: not on every adoption of a config that still carries it, not
 * once per worker, not again by a replacement. Every serving process evaluates its snapshot
 * against the clock (at each adoption and every CHECK_MS) and reports its set when it changes;
 * one process logs the changes itself, a `--workers` primary logs the changes of what its
 * workers report. The workers run one accepted config on one clock, so the latest report is
 * the instance's state; what each worker refuses stays its own (the requests it serves).
 */
import type { Logger } from 'pino'
import type { Gateway } from '../gateway/index.js'
import { degradationMessages, interceptionDegradation } from './certificates.js'
import type { WorkerMessage } from './worker-link.js'

/** How often a process looks at the clock for a certificate that expired or became valid. */
export const CHECK_MS = 5000

/** One refusal in force: an endpoint's bundle, or (no endpoint) the interception CA. */
export interface Degradation {
  endpoint?: string
  reason: string
  problem: string
}

const ENDPOINT_DEGRADED = 'endpoint degraded: it refuses every call until its bundle is valid; the others serve'
const ENDPOINT_RECOVERED = 'endpoint no longer degraded: its bundles are valid, it serves again'
const INTERCEPTION_DEGRADED = 'interception degraded: CONNECT to an intercepted host is refused (503) until the interception CA is valid; pass-through, forward proxy and route mode serve'
const INTERCEPTION_RECOVERED = 'interception no longer degraded: the interception CA is valid, intercepted CONNECT serves again'

/** Every refusal `gateway` makes at `now`: its degraded endpoint bundles, then its interception CA's. */
export function degradationsOf(gateway: Gateway, now = Date.now()): Degradation[] {
  const ca = interceptionDegradation(gateway, now)
  return [
    ...degradationMessages(gateway, now).map((d) => ({ endpoint: d.endpoint, reason: d.reason, problem: d.msg })),
    ...(ca ? [{ reason: ca.reason, problem: ca.msg }] : []),
  ]
}

/** Logs what changes between the sets it is given: a new refusal as a warning, a subject with none left as its recovery. */
export interface DegradationLog {
  update(current: readonly Degradation[]): void
}

/** Creates the log with nothing degraded yet. */
export function createDegradationLog(logger: Logger): DegradationLog {
  // Subject (endpoint name, '' for interception) → its refusals, keyed by reason and problem.
  let state = new Map<string, Set<string>>()
  return {
    update(current) {
      const next = new Map<string, Set<string>>()
      for (const d of current) {
        const subject = d.endpoint ?? ''
        const key = `${d.reason}\0${d.problem}`
        const seen = next.get(subject) ?? new Set<string>()
        next.set(subject, seen)
        if (seen.has(key)) continue
        seen.add(key)
        if (state.get(subject)?.has(key)) continue
        if (d.endpoint === undefined) logger.warn({ reason: d.reason, problem: d.problem }, INTERCEPTION_DEGRADED)
        else logger.warn({ endpoint: d.endpoint, reason: d.reason, problem: d.problem }, ENDPOINT_DEGRADED)
      }
      for (const subject of state.keys()) {
        if (next.has(subject)) continue
        if (subject === '') logger.info(INTERCEPTION_RECOVERED)
        else logger.info({ endpoint: subject }, ENDPOINT_RECOVERED)
      }
      state = next
    },
  }
}

/** Re-evaluates the snapshot in force; `check` at each adoption, and every CHECK_MS until `stop`. */
export interface DegradationWatch {
  check(): void
  stop(): void
}

/** Reports the set of `current()` to `report` the first time and whenever it changes. */
export function watchDegradations(current: () => Gateway | undefined, report: (d: Degradation[]) => void): DegradationWatch {
  let last: string | undefined
  const check = (): void => {
    const g = current()
    if (!g) return
    const now = degradationsOf(g)
    const text = JSON.stringify(now)
    if (text === last) return
    last = text
    report(now)
  }
  const timer = setInterval(check, CHECK_MS)
  timer.unref()
  return { check, stop: () => clearInterval(timer) }
}

/** A worker's `report`: to its primary, which logs the instance's changes. */
export function reportDegradations(degradations: Degradation[]): void {
  if (process.connected) process.send?.({ type: 'mtls-gateway:degradations', degradations } satisfies WorkerMessage)
}
