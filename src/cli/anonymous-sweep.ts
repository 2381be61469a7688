/**
 * Ends what a shortened callers.anonymousTtl ended. Anonymous users' records are stored with the
 * expiry of the anonymousTtl in force when they were written; a read judges them by the one in
 * force now (anonymous-life.ts, bearer-binding.ts), and this sweep removes those past it and brings
 * the others' store expiry forward, so none stays stored past the setting (README: "for
 * anonymousTtl at most"). It runs in the background, one at a time per process: once the store is
 * open (at the start, or the reload that opens it), then whenever a snapshot comes into force with
 * an anonymousTtl shorter than the longest one in force since the last sweep. Each write only over
 * the value read, so workers and replicas sweeping at once agree.
 */
import { endAnonymousBearers } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import type { Runtime } from '../runtime/index.js'
import type { Store } from '../store/index.js'
import type { FeatureFactory } from './gateway-root.js'

/** Removes (or shortens) the anonymous records `gateway`'s anonymousTtl ended; the dance's only when the config has profiles (its modules load then). */
async function sweep(store: Store, gateway: Gateway): Promise<void> {
  const { anonymousTtlMs } = gateway.config.callers
  await endAnonymousBearers(store, gateway.sealers.records, anonymousTtlMs)
  if (gateway.config.profiles.length === 0) return
  const { endAnonymousDanceRecords } = await import('../dance/index.js')
  await endAnonymousDanceRecords(store, anonymousTtlMs)
}

/** Calls `run` for the snapshots that need a sweep (see above); a failed sweep leaves the next snapshot to try again. */
function sweepWhenShortened(runtime: Pick<Runtime, 'store'>, run: (store: Store, gateway: Gateway) => Promise<void>): (gateway: Gateway) => Promise<void> {
  // The longest anonymousTtl in force since the last sweep; undefined: none yet in this process.
  let longest: number | undefined
  let queue = Promise.resolve()
  return (gateway) => {
    const store = runtime.store
    const ttl = gateway.config.callers.anonymousTtlMs
    if (store === undefined) return queue
    if (longest !== undefined && ttl >= longest) {
      longest = ttl
      return queue
    }
    longest = ttl
    queue = queue.then(() => run(store, gateway)).catch(() => {
      longest = undefined
    })
    return queue
  }
}

/** The sweep as a feature of the composition root: at its start, and after each reload's compile. */
export const anonymousSweepFeature: FeatureFactory = ({ runtime, ref }) => {
  const due = sweepWhenShortened(runtime, sweep)
  void due(ref.current)
  return { onCompiled: (gateway) => void due(gateway) }
}
