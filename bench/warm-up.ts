/**
 * Warming a process started for a profile until its young generation settles, instead of for a
 * fixed time: on Node 24 a fresh gateway promotes whole requests to the old generation until the
 * optimizing compiler has compiled its request path (docs/performance.md, session 19).
 */
import { closedLoop } from './load.js'
import { gcFacts } from './gc-trace.js'
import type { BodyKind, PathSetup } from './paths.js'

/** Warm-up until the young generation settles: at most `maxMs` per path and body. */
export interface SettleOptions {
  maxMs: number
}

/** What warming a fresh process took before its window. */
export interface WarmUp {
  ms: number
  requests: number
  /** False when `maxMs` ran out first: the window then still holds warm-up cost. */
  settled: boolean
}

// A settled chunk: young collections cheap and keeping nothing (the steady state's 1–2 ms and
// ~0.05 KB; a warming Node 24 process reads 20–80 ms and 2–8 KB, docs/performance.md session 19).
const SETTLED_PAUSE_MS = 5
const SETTLED_KEPT_KB = 0.3
const SETTLE_CHUNK_MS = 1000

/**
 * Warms for `minMs`, then in one-second chunks until a chunk's young collections (from the
 * process's --trace-gc lines) are cheap and keep nothing. On Node 24 a fresh gateway promotes
 * whole requests until the optimizing compiler has compiled its request path, 15,000–40,000
 * requests: a fixed warm-up measured that on a slow machine instead of the steady state.
 */
export async function warmUntilSettled(setup: PathSetup, output: () => string, body: BodyKind, users: number, minMs: number, maxMs: number): Promise<WarmUp> {
  const t = setup.target(body, users)
  const started = Date.now()
  try {
    let requests = (await closedLoop(t, users, minMs)).requests
    while (Date.now() - started < maxMs) {
      const from = output().length
      const chunk = await closedLoop(t, users, SETTLE_CHUNK_MS)
      requests += chunk.requests
      const gc = gcFacts(output().slice(from), chunk.requests)
      const young = gc ? Math.round((gc.youngPer1k * chunk.requests) / 1000) : 0
      if (gc && young >= 1 && (gc.youngPauseMsPer1k * chunk.requests) / 1000 / young <= SETTLED_PAUSE_MS && gc.keptKbPerReq <= SETTLED_KEPT_KB) {
        return { ms: Date.now() - started, requests, settled: true }
      }
    }
    return { ms: Date.now() - started, requests, settled: false }
  } finally {
    await t.dispatcher.destroy()
  }
}
