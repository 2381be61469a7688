/**
 * A `--workers` instance's /readyz, answered by the primary: 503 only when the instance cannot
 * serve (it drains, no worker serves, a serving worker or the primary itself is not ready). A
 * worker a failed reload left on a config the instance did not accept drains (it takes no new
 * connections) while its siblings serve the accepted one: the instance stays ready and notes it.
 * A failed reload usually reaches every replica together (the same ConfigMap or Secret change), so
 * a 503 then would take every pod out of the Service at once.
 */
import type { Worker } from 'node:cluster'
import { runProbes, type Readiness, type ReadinessProbe } from './admin.js'
import type { Ask } from './worker-link.js'

/** What the primary's readiness reads. */
export interface InstanceReadinessOptions {
  ask: Ask
  askTimeoutMs: number
  /** Workers that said they listen and are still connected. */
  serving(): Worker[]
  /** Workers left on a config the instance did not accept, draining until they exit. */
  leaving(): ReadonlySet<Worker>
  /** The primary's own reasons (its descriptors). */
  conditions(): string[]
  /** True once the instance drains (SIGTERM, SIGINT). */
  draining(): boolean
  probes: readonly ReadinessProbe[]
}

/** Builds the primary's readiness check (per probe, not per request). */
export function instanceReadiness(o: InstanceReadinessOptions): () => Promise<Readiness> {
  return async () => {
    const leaving = [...o.leaving()].filter((w) => !w.isDead())
    const workers = o.serving().filter((w) => !leaving.includes(w))
    const answers = await o.ask(workers, 'readiness', o.askTimeoutMs)
    const tag = (w: Worker, lines: readonly string[]): string[] => lines.map((l) => `worker ${w.process.pid}: ${l}`)
    const reasons = answers.flatMap(({ worker, value }) => (value === undefined ? tag(worker, ['no readiness answer']) : tag(worker, (value as Readiness).reasons)))
    if (workers.length === 0) reasons.push('no worker serving')
    reasons.push(...o.conditions())
    if (o.draining()) reasons.unshift('draining')
    const notes = answers.flatMap(({ worker, value }) => tag(worker, (value as Readiness | undefined)?.notes ?? []))
    notes.push(...leaving.flatMap((w) => tag(w, ['left on a config the instance did not accept; draining, being replaced'])))
    const own = await runProbes(o.probes, reasons)
    const all = [...(own.notes ?? []), ...notes]
    // Per probe (not per request).
    return all.length > 0 ? { ...own, notes: all } : own
  }
}
