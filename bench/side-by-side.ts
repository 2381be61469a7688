/**
 * The CPU ratios of record: the floor and the gateway paths driven at the same time (each
 * virtual user cycles through all of them), each proxy in its own process, CPU per request
 * read from /proc over the same window. A busy machine slows every path of a round alike, so
 * the ratios hold where sequential rounds (one path at a time) swing by ±30 %.
 */
import { closedLoopAll } from './load.js'
import type { BodyKind, PathId, PathSetup } from './paths.js'
import { cpuMicros } from './procs.js'

export interface SideBySideSample {
  round: number
  path: PathId
  body: BodyKind
  requests: number
  cpuUsPerReq: number
  errors: number
  mismatches: number
  non200: number
  firstProblem?: string
}

/** One round: a warm-up, then `ms` with every path at once; each path's process must be its own. */
export async function sideBySide(round: number, body: BodyKind, paths: readonly { id: PathId; setup: PathSetup }[], users: number, ms: number): Promise<SideBySideSample[]> {
  const pids = paths.map((p) => p.setup.proxy?.pid)
  if (pids.some((pid) => pid === undefined) || new Set(pids).size !== pids.length) {
    throw new Error(`side by side needs one process per path: ${paths.map((p) => p.id).join(', ')}`)
  }
  const targets = paths.map((p) => p.setup.target(body, users))
  try {
    await closedLoopAll(targets, users * paths.length, 400)
    const before = pids.map((pid) => cpuMicros(pid as number))
    const results = await closedLoopAll(targets, users * paths.length, ms)
    const after = pids.map((pid) => cpuMicros(pid as number))
    return paths.map((p, i) => {
      const r = results[i] as (typeof results)[number]
      const non200 = Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0)
      const firstProblem = r.firstError ?? r.firstMismatch
      return {
        round,
        path: p.id,
        body,
        requests: r.requests,
        cpuUsPerReq: r.requests === 0 ? NaN : ((after[i] as number) - (before[i] as number)) / r.requests,
        errors: r.errors,
        mismatches: r.mismatches,
        non200,
        ...(firstProblem !== undefined ? { firstProblem } : {}),
      }
    })
  } finally {
    await Promise.all(targets.map((t) => t.dispatcher.destroy()))
  }
}
