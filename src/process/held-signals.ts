/**
 * `serve`'s signals, held from its first statement until its handlers take them over. Before its
 * handlers exist a SIGTERM or SIGINT would take its default action, and a process that is PID 1
 * (a container's entrypoint) has none, so the kernel drops it: the pod would start serving and
 * wait for SIGKILL. Held only once the `serve` command's modules had loaded, a signal in the
 * first second or so (longer on a loaded node) still ended the process, or was lost as PID 1.
 */
import cluster from 'node:cluster'

/** Signals held (holdSignals), and whether one came. */
const held = new Map<NodeJS.Signals, { caught: boolean; listener: () => void }>()

/**
 * Catches `signals` from now on, until installSignals (ops/signals.ts) takes them over and runs
 * the handler of each one caught meanwhile, once. `onCaught`: what to do at once as well.
 */
export function holdSignals(signals: readonly NodeJS.Signals[], onCaught?: (signal: NodeJS.Signals) => void): void {
  for (const signal of signals) {
    if (held.has(signal)) continue
    const entry = { caught: false, listener: (): void => void ((entry.caught = true), onCaught?.(signal)) }
    held.set(signal, entry)
    process.on(signal, entry.listener)
  }
}

/**
 * What `serve` holds, first thing (main.ts): SIGTERM and SIGINT drain once it serves, SIGHUP
 * reloads then. A `--workers` worker leaves SIGINT and SIGHUP to its primary (which relays them),
 * and one still starting exits 0 at its SIGTERM: nothing served, nothing to drain.
 */
export function holdServeSignals(): void {
  holdSignals(['SIGTERM', 'SIGINT', 'SIGHUP'], cluster.isWorker ? (signal) => void (signal === 'SIGTERM' && process.exit(0)) : undefined)
}

/** True while one of `signals` caught by holdSignals waits for its handler (a process still starting holds its drain). */
export function isSignalHeld(signals: readonly NodeJS.Signals[]): boolean {
  return signals.some((signal) => held.get(signal)?.caught === true)
}

/** Takes `signal` over from holdSignals: stops holding it; true when it came meanwhile. */
export function releaseSignal(signal: NodeJS.Signals): boolean {
  const entry = held.get(signal)
  if (entry === undefined) return false
  process.off(signal, entry.listener)
  held.delete(signal)
  return entry.caught
}
