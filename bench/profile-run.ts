/**
 * The per-stage table's profile, taken in the same run after the measured rounds: fresh
 * forwarder and gateways under `node --cpu-prof` (so the profiler never touches the measured
 * figures), each path driven for a window whose monotonic start and end are recorded here,
 * the main thread's CPU read from /proc around it, then the processes stopped (which writes
 * the profiles) and each window cut out of its process's profile (bench/stages.ts).
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { closedLoop } from './load.js'
import { eachProfiledWindow } from './measure.js'
import type { WarmUp } from './warm-up.js'
import { setupPaths, type BodyKind, type PathName, type Processes } from './paths.js'
import { startBareGateway, startForwarder, startProdGateway, type GatewayRun } from './gateways.js'
import type { BenchPki } from './pki.js'
import type { Upstream } from './peers.js'
import { cpuMicros, startTogether, type Proc } from './procs.js'
import { readProfile, stageCosts, type CpuProfile, type StageCost } from './stages.js'
import { gcFacts, type GcFacts } from './gc-trace.js'

export interface StageProfile {
  path: PathName
  body: BodyKind
  requests: number
  /** /proc CPU per request in the window: the whole process, and its main thread (what the profile samples). */
  cpuUsPerReq: number
  mainThreadUsPerReq: number
  stages: StageCost[]
  /** From the process's --trace-gc lines printed in the window. */
  gc?: GcFacts
  /** The warm-up before the window, when it ran until the young generation settled (--settle). */
  warm?: WarmUp
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** Profiles each gateway path (and the floor) for `ms` per body; `run` says which node and CPUs. */
export async function profileStages(dir: string, pki: BenchPki, upstream: Upstream, nginx: Processes['nginx'], run: GatewayRun, paths: readonly PathName[], bodies: readonly BodyKind[], users: number, ms: number, warmMs: number, settleMs = 0): Promise<StageProfile[]> {
  const profDir = (name: string): string => {
    const d = join(dir, `cpu-prof-${name}${run.tag ?? ''}`)
    mkdirSync(d, { recursive: true })
    return d
  }
  const args = (name: string): GatewayRun => ({ ...run, tag: `${run.tag ?? ''}-profiled`, nodeArgs: ['--cpu-prof', '--cpu-prof-interval', '500', '--cpu-prof-dir', profDir(name), '--trace-gc'] })
  const procs: Proc[] = []
  const windows: (Omit<StageProfile, 'stages'> & { proc: string; from: number; to: number })[] = []
  try {
    const [bare, prod, forwarder] = await startTogether(procs, [
      () => startBareGateway(dir, pki, upstream, args('bare')),
      () => startProdGateway(dir, pki, upstream, args('prod')),
      paths.includes('undici_forwarder') ? () => startForwarder(dir, pki, upstream, args('forwarder')) : undefined,
    ])
    const p: Processes = { upstream, nginx, bare, prod, ...(forwarder ? { forwarder } : {}) }
    const setups = setupPaths(pki, p)
    const procName = (path: PathName): string => (path === 'undici_forwarder' ? 'forwarder' : path === 'gateway_mtls' ? 'bare' : 'prod')
    windows.push(...(await eachProfiledWindow(setups, paths, bodies, users, warmMs, async ({ path, body, setup, pid, target, warm }) => {
      const proxy = setup.proxy as Proc
      const [cpu0, main0, from, out0] = [cpuMicros(pid), cpuMicros(pid, true), nowUs(), proxy.output().length]
      const r = await closedLoop(target, users, ms)
      const [cpu1, main1, to, output] = [cpuMicros(pid), cpuMicros(pid, true), nowUs(), proxy.output()]
      const n = Math.max(1, r.requests)
      const gc = gcFacts(output.slice(out0), r.requests)
      return { path, body, requests: r.requests, cpuUsPerReq: (cpu1 - cpu0) / n, mainThreadUsPerReq: (main1 - main0) / n, proc: procName(path), from, to, ...(gc ? { gc } : {}), ...(warm ? { warm } : {}) }
    }, settleMs > 0 ? { maxMs: settleMs } : undefined)))
  } finally {
    await Promise.allSettled(procs.map((q) => q.stop()))
  }
  const profiles = new Map<string, CpuProfile>()
  const profileOf = (proc: string): CpuProfile => {
    const d = profDir(proc)
    const file = readdirSync(d).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`no CPU profile in ${d}: the profiled ${proc} did not exit cleanly`)
    const p = profiles.get(proc) ?? readProfile(join(d, file))
    profiles.set(proc, p)
    return p
  }
  return windows.map(({ proc, from, to, ...figures }) => ({ ...figures, stages: stageCosts(profileOf(proc), from, to, figures.mainThreadUsPerReq) }))
}
