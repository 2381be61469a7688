/**
 * In-flight requests per Gateway snapshot, so a reload closes the old snapshot's pools only
 * when nothing pinned to it is still running, and drain knows what it is waiting for. A request
 * counts from when it pins its snapshot (its turn on its connection, pin-snapshot.ts) until its
 * response closes: one pipelined behind another waits unpinned, and may pin a later snapshot.
 */
import type { Gateway } from '../gateway/index.js'
import { observePins } from '../proxy/pin-snapshot.js'

/** Requests in flight, per pinned snapshot. */
export interface InFlight {
  /** Requests running now, over all snapshots. */
  readonly total: number
  /** Resolves when no request pinned to `gateway` is running. */
  idle(gateway: Gateway): Promise<void>
  /** Counts work pinned to `gateway` outside the listener's requests (e.g. a CONNECT tunnel); call the result once when done. */
  hold(gateway: Gateway): () => void
  /** Stops counting new requests. */
  stop(): void
}

/** Counts requests of `server` against the snapshot each one pinned. */
export function trackInFlight(server: object, onChange?: (delta: 1 | -1) => void): InFlight {
  const counts = new Map<Gateway, number>()
  const waiters = new Map<Gateway, (() => void)[]>()
  let total = 0
  const hold = (gateway: Gateway): (() => void) => {
    counts.set(gateway, (counts.get(gateway) ?? 0) + 1)
    total++
    onChange?.(1)
    let released = false
    return () => {
      if (released) return
      released = true
      total--
      onChange?.(-1)
      const left = (counts.get(gateway) ?? 1) - 1
      if (left > 0) return void counts.set(gateway, left)
      counts.delete(gateway)
      for (const wake of waiters.get(gateway) ?? []) wake()
      waiters.delete(gateway)
    }
  }
  // Told by the listener with the very snapshot the request pinned. 'on': a response closes once; once() would add a wrapper and a removal per request.
  const stop = observePins(server, (gateway, res) => void res.on('close', hold(gateway)))
  return {
    get total() {
      return total
    },
    idle(gateway) {
      if (!counts.has(gateway)) return Promise.resolve()
      return new Promise((resolve) => waiters.set(gateway, [...(waiters.get(gateway) ?? []), resolve]))
    },
    hold,
    stop,
  }
}
