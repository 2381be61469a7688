/**
 * What `node --trace-gc` says about one window of a profiled process: how often the young
 * generation was collected, how long those pauses were, how many full (mark-compact)
 * collections ran, and how much heap each request left behind after collections — the
 * figure that shows request objects being promoted instead of dying young.
 */

export interface GcFacts {
  /** Young-generation collections (scavenges / minor mark-sweeps) per 1,000 requests. */
  youngPer1k: number
  /** Their main-thread pause, ms per 1,000 requests. */
  youngPauseMsPer1k: number
  /** Full (mark-compact) collections in the window. */
  full: number
  /**
   * Their main-thread time per request, µs: each one's final pause plus the incremental
   * marking steps before it. With 64 KiB bodies the body buffers' external memory starts one
   * every few hundred requests, and a larger heap makes each cost more (docs/performance.md,
   * session 14).
   */
  fullUsPerReq: number
  /** Growth of the heap left after consecutive collections, KB per request (0 when nothing is kept). */
  keptKbPerReq: number
}

// "[pid:0x…]   1234 ms: Scavenge 45.6 (83.5) -> 39.3 (83.5) MB, [pooled: 12 MB, ]7.10 / 0.01 ms …"
const LINE = /ms: (Scavenge|Minor Mark-Sweep|Mark-Compact(?: \(reduce\))?|Mark-Sweep)[^0-9]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/
// A full collection's incremental marking before its final pause: "(+ 11.3 ms in 22 steps since start of marking".
const STEPS = /\(\+ ([\d.]+) ms in \d+ steps/

/** Parses the trace lines printed during a window of `requests` requests; undefined when there are none. */
export function gcFacts(traceText: string, requests: number): GcFacts | undefined {
  let young = 0
  let youngPause = 0
  let full = 0
  let fullMs = 0
  let kept = 0
  let lastAfter: number | undefined
  for (const line of traceText.split('\n')) {
    const m = LINE.exec(line)
    if (!m) continue
    const after = Number(m[4])
    if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Sweep') {
      young++
      youngPause += Number(m[6])
      if (lastAfter !== undefined && after > lastAfter) kept += after - lastAfter
      lastAfter = after
    } else {
      full++
      fullMs += Number(m[6]) + Number(STEPS.exec(line)?.[1] ?? 0)
      lastAfter = undefined // a full collection frees what the young ones kept: start a new chain
    }
  }
  if (young + full === 0) return undefined
  const n = Math.max(1, requests)
  return { youngPer1k: (young * 1000) / n, youngPauseMsPer1k: (youngPause * 1000) / n, full, fullUsPerReq: (fullMs * 1000) / n, keptKbPerReq: (kept * 1024) / n }
}
