/** Process signal handlers that can be removed again (in-process tests start and stop gateways). */

/** What each signal does; a cluster worker maps SIGHUP/SIGINT to nothing (the primary relays them once). */
export type SignalHandlers = Partial<Record<'SIGHUP' | 'SIGINT' | 'SIGTERM', () => void>>

/** Installs the handlers; returns the function that removes them. */
export function installSignals(handlers: SignalHandlers): () => void {
  const entries = Object.entries(handlers) as [NodeJS.Signals, () => void][]
  for (const [signal, fn] of entries) process.on(signal, fn)
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
