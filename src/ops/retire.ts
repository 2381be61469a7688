/**
 * Retiring an old Gateway snapshot after a reload: the pools the new snapshot did not keep
 * (gateway/kept-pools.ts) close once every request pinned to it has finished (undici's Agent.close() would also wait, but would refuse a request that
 * pinned the snapshot and has not reached the pool yet).
 */
import type { Gateway } from '../gateway/index.js'
import type { InFlight } from './in-flight.js'

/** Closes old snapshots once nothing uses them. */
export interface Retirer {
  /** Closes `old` once it is idle, or after `maxMs` at the latest. */
  retire(old: Gateway): void
  /** Resolves when every retirement so far has finished. */
  settled(): Promise<void>
}

/** Creates the retirer; `maxMs` bounds the wait, so a never-ending stream cannot keep old pools for ever. */
export function createRetirer(inFlight: InFlight, maxMs = 10 * 60_000): Retirer {
  const retiring = new Set<Promise<void>>()
  return {
    retire(old) {
      let timer: NodeJS.Timeout | undefined
      const capped = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs).unref()))
      const done: Promise<void> = Promise.race([inFlight.idle(old), capped])
        .then(() => old.close())
        .finally(() => {
          clearTimeout(timer)
          retiring.delete(done)
        })
      retiring.add(done)
    },
    settled: async () => {
      await Promise.allSettled([...retiring])
    },
  }
}
