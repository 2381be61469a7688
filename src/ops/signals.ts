/** Process signal handlers that can be removed again (in-process tests start and stop gateways). */
import type { Logger } from 'pino'
import type { Drain } from './drain.js'
import { releaseSignal } from '../process/index.js'

/** What each signal does; a cluster worker maps SIGHUP/SIGINT to nothing (the primary relays them once). */
export type SignalHandlers = Partial<Record<'SIGHUP' | 'SIGINT' | 'SIGTERM', () => void>>

export { holdSignals, isSignalHeld } from '../process/index.js'

/** Installs the handlers (running each one whose signal holdSignals caught); returns the function that removes them. */
export function installSignals(handlers: SignalHandlers): () => void {
  const entries = Object.entries(handlers) as [NodeJS.Signals, () => void][]
  for (const [signal, fn] of entries) process.on(signal, fn)
  const caught = entries.filter(([signal]) => releaseSignal(signal))
  for (const [, fn] of caught) fn()
  return () => {
    for (const [signal, fn] of entries) process.off(signal, fn)
  }
}

/**
 * Catches `signal` from now on (its default action would end the process) until the returned
 * function installs its handler; a signal caught meanwhile runs the handler then, once.
 */
export function deferSignal(signal: NodeJS.Signals): (handler: () => void) => void {
  let caught = false
  const early = (): void => void (caught = true)
  process.on(signal, early)
  return (handler) => {
    process.off(signal, early)
    process.on(signal, handler)
    if (caught) handler()
  }
}

/**
 * A reload trigger (SIGHUP, a watched file's change) that does nothing while the process or
 * instance drains, saying so once per trigger: a draining process takes no new connection, so a
 * reload would serve nothing, could land after its pools closed, and a `--workers` primary would
 * relay it to workers that are draining.
 */
export function reloadUnlessDraining(draining: () => boolean, log: Logger, reload: (trigger: string) => unknown): (trigger: string) => void {
  return (trigger) => void (draining() ? log.info({ trigger }, 'draining: no reload') : reload(trigger))
}

/** What a serving process's signals do: SIGHUP reloads, SIGTERM/SIGINT drain; a cluster worker leaves SIGHUP and SIGINT to its primary. */
export interface OpsSignalOptions {
  /** Handle them at all (the CLI does, in-process tests don't). */
  signals?: boolean
  worker?: boolean
}

/**
 * The signal handlers of one process that serves: installed by `serving` once its listener is
 * bound (a signal held since the start, holdSignals, is handled then), never after `remove`.
 * Before, they were installed before listen(): a drain then closed a server not bound yet, which
 * bound all the same and served (or was handed connections by a `--workers` primary) while the process exited.
 */
export function opsSignals(o: OpsSignalOptions, reload: (trigger: string) => void, drain: Pick<Drain, 'begin'>): { serving(): void; remove(): void } {
  let state: 'waiting' | 'installed' | 'removed' = 'waiting'
  let uninstall = (): void => {}
  const ignore = (): void => {}
  return {
    serving() {
      if (!o.signals || state !== 'waiting') return
      state = 'installed'
      uninstall = installSignals({
        SIGHUP: o.worker ? ignore : () => reload('SIGHUP'),
        SIGINT: o.worker ? ignore : () => drain.begin('SIGINT'),
        SIGTERM: () => drain.begin('SIGTERM'),
      })
    },
    remove() {
      state = 'removed'
      uninstall()
    },
  }
}
