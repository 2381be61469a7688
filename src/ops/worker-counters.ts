/**
 * The `--workers` primary's counts of replaced workers. Every process registers them (a single
 * process and each worker at 0, summed in the primary's aggregate), so dashboards and alerts find
 * the same families with or without workers, and every reason exists from the start.
 */
import { Counter, type Registry } from 'prom-client'

/**
 * Why the primary drained (or, still starting, killed) one worker on purpose, the label of
 * `worker_drains_total`: it did not answer a reload; it could not go back after a failed one;
 * it was still starting when a reload came and did not serve within the answer timeout.
 */
export const WORKER_DRAIN_REASONS = ['reload_unanswered', 'rollback_failed', 'start_outlasted_reload'] as const
/** One of WORKER_DRAIN_REASONS. */
export type WorkerDrainReason = (typeof WORKER_DRAIN_REASONS)[number]

/** Registers worker_restarts_total (crashes and kills, not a worker's clean exit of its own) and worker_drains_total{reason} (deliberate drains). */
export function createWorkerCounters(registers: Registry[]): { restarts: Counter; drains: Counter<'reason'> } {
  const restarts = new Counter({ name: 'mtls_gateway_worker_restarts_total', help: 'Workers replaced after they crashed or were killed (by the watchdog, or not started in time); not a clean exit of its own (code 0).', aggregator: 'sum', registers })
  const drains = new Counter({ name: 'mtls_gateway_worker_drains_total', help: 'Workers the primary drained on purpose and replaced, by reason.', labelNames: ['reason'] as const, aggregator: 'sum', registers })
  for (const reason of WORKER_DRAIN_REASONS) drains.inc({ reason }, 0)
  return { restarts, drains }
}
