/**
 * The allocation table's windows, taken in the same run after the measured rounds: fresh
 * forwarder and gateways with bench/heap-sampler.js preloaded (so the sampler never touches the
 * measured figures), each path driven for a window between two SIGUSR2s, and the profile each
 * window wrote split by stage (bench/stages.ts). What a request allocates is what the young
 * collections must sweep: the floor's against each gateway path says which stages feed them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closedLoop } from './load.js'
import { eachProfiledWindow } from './measure.js'
import { bareAndProd, gatewaysNeeded, setupPaths, type BodyKind, type PathName, type Processes } from './paths.js'
import { DIST, startBareGateway, startForwarder, startProdGateway, type GatewayRun } from './gateways.js'
import type { BenchPki } from './pki.js'
import type { Upstream } from './peers.js'
import { startTogether, type Proc } from './procs.js'
import { allocationStages, type HeapProfile, type StageBytes } from './stages.js'

export interface AllocationProfile {
  path: PathName
  body: BodyKind
  requests: number
  stages: StageBytes[]
}

/** The first match of `re` in the process's output after `from` (waits up to 20 s for the sampler's line). */
async function sampler(proc: Proc, from: number, re: RegExp): Promise<RegExpMatchArray> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const m = re.exec(proc.output().slice(from))
    if (m) return m
    if (Date.now() > deadline) throw new Error(`${proc.name}: no "${re.source}" from the heap sampler within 20 s:\n${proc.output().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Samples each gateway path's (and the floor's) allocations for `ms` per body; `run` says which node and CPUs. */
export async function profileAllocations(dir: string, pki: BenchPki, upstream: Upstream, nginx: Processes['nginx'], run: GatewayRun, paths: readonly PathName[], bodies: readonly BodyKind[], users: number, ms: number, warmMs: number): Promise<AllocationProfile[]> {
  const args: GatewayRun = { ...run, tag: `${run.tag ?? ''}-alloc`, nodeArgs: ['--import', join(run.dist ?? DIST, 'bench', 'heap-sampler.js')] }
  const procs: Proc[] = []
  try {
    // Only the gateways whose paths get windows (the smoke run samples the floor and the realistic path: no bare gateway).
    const needed = gatewaysNeeded(paths, false)
    const [bare, prod, forwarder] = await startTogether(procs, [
      needed.bare ? () => startBareGateway(dir, pki, upstream, args) : undefined,
      needed.prod ? () => startProdGateway(dir, pki, upstream, args) : undefined,
      paths.includes('undici_forwarder') ? () => startForwarder(dir, pki, upstream, args) : undefined,
    ])
    const p: Processes = { upstream, nginx, ...bareAndProd(bare, prod), ...(forwarder ? { forwarder } : {}) }
    const setups = setupPaths(pki, p)
    return await eachProfiledWindow(setups, paths, bodies, users, warmMs, async ({ path, body, setup, pid, target }) => {
      const proc = setup.proxy as Proc
      const started = proc.output().length
      process.kill(pid, 'SIGUSR2')
      // Sampling is on once the sampler says so: the window counts only requests it saw whole.
      await sampler(proc, started, /heap sampling started/)
      const r = await closedLoop(target, users, ms)
      const before = proc.output().length
      process.kill(pid, 'SIGUSR2')
      const [, file = ''] = await sampler(proc, before, /heap profile written: (\S+)/)
      const profile = JSON.parse(readFileSync(file, 'utf8')) as HeapProfile
      return { path, body, requests: r.requests, stages: allocationStages(profile, r.requests) }
    })
  } finally {
    await Promise.allSettled(procs.map((q) => q.stop()))
  }
}
