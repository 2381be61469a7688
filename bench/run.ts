/**
 * `npm run bench`: the gateway side by side with nginx and a direct mTLS connection, all
 * on 127.0.0.1, all figures from one run (rounds interleaved, medians), then the
 * interception CA's minting figures. Writes bench/results/<date>.json and prints markdown.
 * `--quick` is the few-second smoke run the test suite uses; `--help` lists the options.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { machineInfo, type MachineInfo } from './machine.js'
import { measure, prewarm, type MeasureOptions, type Sample } from './measure.js'
import { runMint, type MintResult } from './mint.js'
import { soak, type SoakResult } from './soak.js'
import { bareAndProd, forwarderSetup, gatewaysNeeded, setupPaths, type BodyKind, type PathId, type PathName, type PathSetup, type Processes } from './paths.js'
import { DIST, startBareGateway, startForwarder, startProdGateway, startTracedGateway, type GatewayRun } from './gateways.js'
import { startOtlpSink, type OtlpSink } from './otlp-sink.js'
import { startUserGateway } from './user-gateways.js'
import { startNginxProxy, startUpstream } from './peers.js'
import { writeBenchPki } from './pki.js'
import { memory, pinSelf, scratchDir, startTogether, type Proc } from './procs.js'
import { checkTargets, markdown, median, summarize, type Row, type Target } from './report.js'
import { nodeId, withoutNode, type BenchNode } from './nodes.js'
import { benchOptions, HELP } from './options.js'
import { profileStages, type StageProfile } from './profile-run.js'
import { profileAllocations, type AllocationProfile } from './alloc-run.js'
import { idleBurst, idleMarkdown, type IdleRow } from './idle-run.js'
import { allocationMarkdown, stageMarkdown, withUnprofiled } from './stages.js'
import { perfMarkdown, perfUsable, perfWindows, type PerfWindow } from './perf-split.js'
import { sideBySide, type SideBySideSample } from './side-by-side.js'
import { FLOOR_PROBE, floorPairPlan, floorPairsMarkdown, latencyPairsMarkdown, pairedWindows, pairsMarkdown, SAME, summarizeFloorPairs, summarizeLatencyPairs, summarizePairs, type FloorPairRow, type LatencyPairRow, type PairMember, type PairRow, type PairSample, probeGroup } from './pairs.js'
import { sideMarkdown, summarizeSide, type SideRow } from './report.js'
import { fileLines, summarizeV8Log, v8LogMarkdown, type V8LogSummary } from './v8-log.js'

export interface BenchResult {
  date: string
  machine: MachineInfo
  options: MeasureOptions & { rounds: number; mintHosts: number; prewarmMs: number; upstreamReadsBody: boolean; pinned: { load: string; proxies: string } | null }
  rows: Row[]
  targets: Target[]
  mint?: MintResult
  soak?: SoakResult
  rss: { t: number; proc: string; rss: number }[]
  samples: Sample[]
  /** Every paired window as taken (--floor-pairs, --latency-pairs), numbered in order (seq). */
  pairWindows?: { floor: PairSample[]; latency: PairSample[] }
  /** Per node (the top-level rows and targets are the first node's). */
  nodes: NodeResult[]
}

export interface NodeResult extends BenchNode {
  rows: Row[]
  targets: Target[]
  stages: (StageProfile & { unprofiledMainUsPerReq?: number })[]
  /** Bytes allocated per request by stage, when sampled (--alloc). */
  allocations: AllocationProfile[]
  /** The windows after an idle spell, when it ran (--idle). */
  idle: IdleRow[]
  /** The all-thread CPU split from perf, when it ran (--perf). */
  perf: PerfWindow[]
  /** The side-by-side phase, when it ran (--side-by-side). */
  side: SideRow[]
  /** The paired windows against the --compare build, when they ran (--pairs). */
  pairs: PairRow[]
  /** This build against a second process set of itself in the same pairs (--aa). */
  aaPairs: PairRow[]
  /** The gateway paths against the floor in paired windows, when they ran (--floor-pairs). */
  floorPairs: FloorPairRow[]
  /** The realistic path's added latency in paced windows taken in turn, when they ran (--latency-pairs). */
  latencyPairs: LatencyPairRow[]
}

const parsed = benchOptions(process.argv.slice(2))
if (parsed === 'help') {
  process.stdout.write(HELP + '\n')
  process.exit(0)
}
const { measure: opts, prewarmMs, stagesMs, freshWarmMs, settleMs, allocMs, idleSeconds, idleWindowMs, perfMs, sideRounds, sideMs, pairs, floorPairs, floorPairPaths, latencyPairs, pairMs, allocPaths, nodes, paths, bodies, out, date, v8Log } = parsed
const many = nodes.length > 1

const dir = scratchDir('mtlsgw-bench-', parsed.keepDir)
const log = (s: string): void => void process.stderr.write(s + '\n')
const started = Date.now()
const machine = await machineInfo()
log(`bench: ${machine.summary}; load ${machine.loadBefore.join(' ')}; nodes ${nodes.map((n) => `${n.version} (${n.binary})`).join(', ')}`)
const pki = await writeBenchPki(dir)
const samples: Sample[] = []
const rss: BenchResult['rss'] = []
const peak: Partial<Record<PathId, number>> = {}
const ids: PathId[] = []
const stageProfiles = new Map<string, StageProfile[]>()
const allocationProfiles = new Map<string, AllocationProfile[]>()
const idleRows = new Map<string, IdleRow[]>()
/** Windows after the idle spell: the first seconds, then enough to read the settled cost from. */
const IDLE_WINDOWS = 6
const perfSplits = new Map<string, PerfWindow[]>()
const sideSamples: SideBySideSample[] = []
const pairSamples: PairSample[] = []
const floorPairSamples: PairSample[] = []
const latencyPairSamples: PairSample[] = []
/** Per node: the paths of its side-by-side group (the floor first). */
const sideGroups = new Map<string, { id: PathId; setup: PathSetup }[]>()
let mint: MintResult | undefined
let soaked: SoakResult | undefined
let upstreamReadsBody = false
let pinned: { load: string; proxies: string } | undefined
const procs: Proc[] = []
/** Per node: each proxy's V8 log, summarised (--v8-log). */
const v8Logs = new Map<string, { file: string; summary: V8LogSummary }[]>()
/** The node flags that make every proxy of `nodeKey` write a V8 log (none without --v8-log). */
function v8LogArgs(nodeKey: string): string[] {
  if (v8Log === undefined) return []
  const logDir = join(dir, 'v8-logs', nodeKey)
  mkdirSync(logDir, { recursive: true })
  return [v8Log === 'ic' ? '--log-ic' : '--log-maps', `--logfile=${join(logDir, 'v8-%p.log')}`, '--no-logfile-per-isolate']
}
function readV8Logs(logDir: string): { file: string; summary: V8LogSummary }[] {
  if (!existsSync(logDir)) return []
  return readdirSync(logDir).map((name) => ({ file: name, summary: summarizeV8Log(fileLines(join(logDir, name))) }))
}
let sink: OtlpSink | undefined
try {
  if (!parsed.noProxy) {
    const cpuCount = availableParallelism()
    const pin = !parsed.noPin && cpuCount >= 2 && pinSelf('0')
    const loadCpus = pin ? '0' : undefined
    const proxyCpus = pin ? String(cpuCount - 1) : undefined
    pinned = pin ? { load: '0', proxies: String(cpuCount - 1) } : undefined
    const upstream = await startUpstream(dir, pki, loadCpus)
    procs.push(upstream)
    upstreamReadsBody = upstream.readsBody
    if (!upstreamReadsBody) log('note: nginx echo module missing (apt-get install libnginx-mod-http-echo): the upstream answers before reading bodies')
    // How the after-the-rounds phases (stages, allocations, idle spell) start their fresh processes on each node.
    const afterRounds = (node: BenchNode): GatewayRun => ({ node: node.binary, tag: many ? `-${node.key}` : '', ...(proxyCpus !== undefined ? { cpus: proxyCpus } : {}) })
    const nginx = await startNginxProxy(dir, pki, upstream, proxyCpus)
    procs.push(nginx)
    const setups: Record<PathId, PathSetup | undefined> = {}
    const shared: PathName[] = paths.filter((x) => x === 'direct' || x === 'nginx')
    ids.push(...shared)
    if (paths.some((x) => x.startsWith('gateway_traced'))) sink = await startOtlpSink()
    for (const node of nodes) {
      const run: GatewayRun = { nodeArgs: [...(parsed.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', parsed.profile] : []), ...v8LogArgs(node.key)], node: node.binary, tag: many ? `-${node.key}` : '', ...(proxyCpus !== undefined ? { cpus: proxyCpus } : {}) }
      // Side by side needs one process per path: CONNECT gets a production gateway of its own.
      const ownConnect = sideRounds > 0 && paths.includes('gateway_connect')
      // The floor-pair sets' host-speed gauge (pairs.ts, FLOOR_PROBE): only where 64 KiB sets follow the empty ones.
      const floorProbeRuns = floorPairs > 0 && paths.includes('undici_forwarder') && bodies.includes('64k') && bodies.includes('empty')
      // A node's processes start side by side (procs.ts, startTogether); each has its own dir, ports and store.
      const otlp = sink?.url
      const needed = gatewaysNeeded(paths, ownConnect)
      const [bare, prod, forwarder, userSqlite, userRedis, connectProd, limitsOff, traced1, traced100, probe] = await startTogether(procs, [
        needed.bare ? () => startBareGateway(dir, pki, upstream, run) : undefined,
        needed.prod ? () => startProdGateway(dir, pki, upstream, run) : undefined,
        paths.includes('undici_forwarder') ? () => startForwarder(dir, pki, upstream, run) : undefined,
        paths.includes('gateway_user_sqlite') ? () => startUserGateway(dir, pki, upstream, 'sqlite', run) : undefined,
        paths.includes('gateway_user_redis') ? () => startUserGateway(dir, pki, upstream, 'redis', run) : undefined,
        ownConnect ? () => startProdGateway(dir, pki, upstream, { ...run, tag: `-connect${run.tag ?? ''}` }) : undefined,
        paths.includes('gateway_limits_off') ? () => startProdGateway(dir, pki, upstream, { ...run, limitsOff: true }) : undefined,
        otlp !== undefined ? () => startTracedGateway(dir, pki, upstream, 0.01, otlp, run) : undefined,
        otlp !== undefined ? () => startTracedGateway(dir, pki, upstream, 1, otlp, run) : undefined,
        floorProbeRuns ? () => startForwarder(dir, pki, upstream, { ...run, tag: `-probe${run.tag ?? ''}` }) : undefined,
      ])
      if (probe) setups[nodeId(FLOOR_PROBE, node, many)] = forwarderSetup(probe)
      const p: Processes = { upstream, nginx, ...bareAndProd(bare, prod), ...(forwarder ? { forwarder } : {}), ...(userSqlite ? { userSqlite } : {}), ...(userRedis ? { userRedis } : {}), ...(connectProd ? { connectProd } : {}), ...(limitsOff ? { limitsOff } : {}), ...(traced1 && traced100 ? { traced: { '1pct': traced1, '100pct': traced100 } } : {}) }
      const mine = setupPaths(pki, p)
      if (node === nodes[0]) for (const path of shared) setups[path] = mine[path]
      for (const path of paths.filter((x) => !shared.includes(x))) {
        setups[nodeId(path, node, many)] = mine[path]
        ids.push(nodeId(path, node, many))
      }
      // The other build's processes, and with --aa a second set of this build's (SAME): the pairing's own bias.
      const others = parsed.compare === undefined ? [] : [{ dist: parsed.compare, suffix: '@before' }, ...(parsed.aa ? [{ dist: DIST, suffix: SAME }] : [])]
      for (const { dist: otherDist, suffix } of others) {
        const other = { ...run, dist: otherDist, tag: `${suffix}${run.tag ?? ''}` }
        const [otherBare, otherProd, otherConnect] = await startTogether(procs, [
          needed.bare ? () => startBareGateway(dir, pki, upstream, other) : undefined,
          needed.prod ? () => startProdGateway(dir, pki, upstream, other) : undefined,
          ownConnect ? () => startProdGateway(dir, pki, upstream, { ...other, tag: `-connect${other.tag}` }) : undefined,
        ])
        const q: Processes = { ...p, ...bareAndProd(otherBare, otherProd) }
        if (otherConnect) q.connectProd = otherConnect
        const theirs = setupPaths(pki, q)
        // Baselines and tracing rows are priced against this build's own rows; another build may not know `tracing`.
        for (const path of paths.filter((x) => x.startsWith('gateway') && x !== 'gateway_limits_off' && !x.startsWith('gateway_traced'))) {
          setups[nodeId(`${path}${suffix}`, node, many)] = theirs[path]
          ids.push(nodeId(`${path}${suffix}`, node, many))
        }
      }
      const sideNames = ['undici_forwarder', 'gateway_mtls', 'gateway_realistic', 'gateway_connect'].filter((x) => paths.includes(x as PathName))
      const group = [...sideNames, ...(parsed.compare !== undefined ? sideNames.filter((x) => x !== 'undici_forwarder').map((x) => `${x}@before`) : [])]
        .map((x) => ({ id: nodeId(x, node, many), setup: setups[nodeId(x, node, many)] }))
        .filter((x): x is { id: PathId; setup: PathSetup } => x.setup !== undefined)
      if (sideRounds > 0 && group.length > 1) sideGroups.set(node.key, group)
    }
    const combos = bodies.flatMap((body) => ids.map((path) => ({ path, body })))
    if (prewarmMs > 0) {
      log(`prewarm: ${combos.length} × ${prewarmMs} ms`)
      for (const { path, body } of combos) await prewarm(setups[path] as PathSetup, body, opts.users, prewarmMs)
    }
    for (let round = 1; round <= opts.rounds; round++) {
      // Interleaved: each round starts one further along, so no path always follows the same one.
      const order = combos.map((_, i) => combos[(i + round - 1) % combos.length] as (typeof combos)[number])
      for (const { path, body } of order) {
        const s = await measure(round, path, body, setups[path] as PathSetup, upstream, opts)
        samples.push(s)
        for (const q of procs.slice(1)) rss.push({ t: Date.now() - started, proc: q.name, rss: memory(q.pid).rss })
        log(`round ${round} ${path.padEnd(18)} ${body.padEnd(5)} ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50Ms.toFixed(2)} ms  paced p50 ${s.pacedP50Ms.toFixed(2)} ms  cpu ${s.cpuUsPerReq?.toFixed(0) ?? '—'} µs/req  hs/1k ${s.handshakesPer1k.toFixed(2)} (pool ${s.poolGrowth >= 0 ? '+' : ''}${s.poolGrowth}, replaced ${s.replacedPer1k.toFixed(2)}/1k, warm-up +${s.settleMs} ms)${s.errors + s.mismatches > 0 ? `  errors ${s.errors} mismatches ${s.mismatches}: ${s.firstError ?? s.firstMismatch}` : ''}`)
      }
    }
    for (let round = 1; round <= sideRounds; round++) {
      for (const [key, group] of sideGroups) {
        for (const body of bodies) {
          const got = await sideBySide(round, body, group, opts.users, sideMs)
          sideSamples.push(...got)
          log(`side by side ${round} ${key} ${body.padEnd(5)} ${got.map((s) => `${s.path} ${s.cpuUsPerReq.toFixed(0)} µs (${s.requests})${s.errors + s.mismatches + s.non200 > 0 ? ` PROBLEM ${s.firstProblem ?? `non-200 ${s.non200}`}` : ''}`).join(', ')}`)
        }
      }
    }
    // Before each group of paired windows (none in a smoke run, which has no prewarm).
    const groupPrewarmMs = prewarmMs > 0 ? Math.max(prewarmMs, 2000) : 0
    const gatewayPaths = (['gateway_mtls', 'gateway_realistic', 'gateway_connect'] as const).filter((x) => paths.includes(x) && (floorPairPaths ?? paths).includes(x))
    const floorPlan = floorPairs > 0 && paths.includes('undici_forwarder') ? floorPairPlan(nodes, gatewayPaths, bodies, floorPairs) : []
    // One body's floor-pair sets, node by node, in floorPairPlan's order (which says why).
    const floorPairPhase = async (body: BodyKind): Promise<void> => {
      for (const node of nodes) {
        const sets = floorPlan.filter((x) => x.body === body && x.node === node)
        if (sets.length === 0) continue
        const membersOf = (path: string): PairMember[] => [nodeId('undici_forwarder', node, many), nodeId(path, node, many)].map((x) => ({ id: x, setup: setups[x] as PathSetup, body }))
        const probeId = nodeId(FLOOR_PROBE, node, many)
        const probe: PairMember[] = setups[probeId] ? [{ id: probeId, setup: setups[probeId], body: 'empty' }] : []
        // Each path warmed once before the node's sets (the floor first; the production gateway serves two paths).
        const warm = new Map([...[...new Set(sets.map((x) => x.path))].flatMap((path) => membersOf(path)), ...probe].map((m) => [m.id, m]))
        for (const m of warm.values()) if (groupPrewarmMs > 0) await prewarm(m.setup, m.body, opts.users, groupPrewarmMs)
        const taken: PairSample[] = []
        const seq = (): number => floorPairSamples.length + taken.length + 1
        for (const [i, { path, pair }] of sets.entries()) {
          const id = nodeId(path, node, many)
          taken.push(...(await pairedWindows(1, membersOf(path), opts.users, pairMs, { group: id, firstPair: pair, firstSeq: seq() })))
          // The probe once per set number, after its last path's set.
          if (probe.length > 0 && sets[i + 1]?.pair !== pair) taken.push(...(await pairedWindows(1, probe, opts.users, pairMs, { group: nodeId(probeGroup(body), node, many), firstPair: pair, firstSeq: seq() })))
        }
        floorPairSamples.push(...taken)
        for (const path of gatewayPaths) {
          const id = nodeId(path, node, many)
          const got = taken.filter((x) => x.group === id)
          if (got.length > 0) log(`floor pairs ${id} ${body}: ${got.map((x) => `${x.path === id ? 'gw' : 'floor'} ${x.cpuUsPerReq.toFixed(0)}`).join(' ')}`)
        }
        const probed = taken.filter((x) => x.path === probeId)
        if (probed.length > 0) log(`floor pairs ${body}, host-speed probe (empty bodies only): ${probed.map((x) => x.cpuUsPerReq.toFixed(0)).join(' ')}`)
      }
    }
    await floorPairPhase('empty')
    if (latencyPairs > 0 && bodies.includes('empty') && (['direct', 'undici_forwarder', 'gateway_realistic'] as const).every((x) => paths.includes(x))) {
      for (const node of nodes) {
        // Direct has no proxy: one set of windows per node, each with the direct path beside that node's floor and realistic path,
        // and mTLS only when it runs: realistic minus mTLS only is what OAuth, the field, the log line and metrics add.
        const gateways = (['gateway_mtls', 'gateway_realistic'] as const).filter((x) => paths.includes(x))
        const members = ['direct', nodeId('undici_forwarder', node, many), ...gateways.map((x) => nodeId(x, node, many))].map((x) => ({ id: x, setup: setups[x] as PathSetup, body: 'empty' as const }))
        for (const m of members) if (groupPrewarmMs > 0) await prewarm(m.setup, m.body, opts.users, groupPrewarmMs)
        const got = await pairedWindows(latencyPairs, members, opts.users, pairMs, { group: node.key, pace: { rate: opts.rate, ms: opts.pacedMs }, firstSeq: latencyPairSamples.length + 1 })
        latencyPairSamples.push(...got)
        log(`latency pairs ${node.version}: ${got.map((x) => `${withoutNode(x.path)} ${x.pacedP50Ms?.toFixed(2) ?? '—'} ms`).join(' ')}`)
      }
    }
    // The 64 KiB sets last: nothing empty is measured after them (floorPairPlan).
    for (const body of bodies.filter((b) => b !== 'empty')) await floorPairPhase(body)
    if (pairs > 0 && parsed.compare !== undefined) {
      for (const id of ids.filter((x) => x.includes('@before'))) {
        const mine = id.replace('@before', '')
        const same = id.replace('@before', SAME)
        for (const body of bodies) {
          const members = [mine, id, ...(setups[same] ? [same] : [])].map((x) => ({ id: x, setup: setups[x] as PathSetup, body }))
          const got = await pairedWindows(pairs, members, opts.users, pairMs)
          pairSamples.push(...got)
          log(`pairs ${mine} ${body}: ${got.map((x) => `${withoutNode(x.path).replace(/^[^@]*/, '') || 'this'} ${x.cpuUsPerReq.toFixed(0)}`).join(' ')}`)
        }
      }
    }
    const first = nodes[0] as BenchNode
    const soakSeconds = parsed.soakSeconds
    const soakSetup = setups[nodeId('gateway_realistic', first, many)]
    if (soakSeconds > 0 && soakSetup) {
      log(`soak: gateway_realistic on ${first.version} for ${soakSeconds} s`)
      soaked = await soak('gateway_realistic', soakSetup, opts.users, Math.max(30, soakSeconds))
      log(`soak: RSS troughs ${soaked.troughDriftPct.toFixed(1)} %, peaks ${soaked.peakDriftPct.toFixed(1)} % (last third vs first), range ${soaked.rangePct.toFixed(1)} %`)
    }
    for (const [path, setup] of Object.entries(setups)) if (setup?.proxy) peak[path] = memory(setup.proxy.pid).peak
    if (perfMs > 0 && !perfUsable()) log('perf: skipped, `perf record` cannot run here (apt-get install -y linux-perf; root or kernel.perf_event_paranoid ≤ 1)')
    else if (perfMs > 0) {
      for (const node of nodes) {
        log(`perf: ${node.version}, ${perfMs} ms per path and body`)
        // This node's setups under their plain path names, as the windows look them up.
        const own = Object.fromEntries(paths.map((x) => [x, setups[nodeId(x, node, many)]])) as Partial<Record<PathName, PathSetup>>
        perfSplits.set(node.key, await perfWindows(own, paths, bodies, opts.users, perfMs, dir))
      }
    }
    if (stagesMs > 0) {
      for (const node of nodes) {
        log(`stages: profiling ${node.version}, ${stagesMs} ms per path and body`)
        stageProfiles.set(node.key, await profileStages(dir, pki, upstream, nginx, afterRounds(node), paths, bodies, opts.users, stagesMs, freshWarmMs, settleMs))
      }
    }
    if (allocMs > 0) {
      for (const node of nodes) {
        log(`allocations: sampling ${node.version}, ${allocMs} ms per path and body`)
        allocationProfiles.set(node.key, await profileAllocations(dir, pki, upstream, nginx, afterRounds(node), paths.filter((x) => (allocPaths ?? paths).includes(x)), bodies, opts.users, allocMs, freshWarmMs))
      }
    }
    if (idleSeconds > 0) {
      for (const node of nodes) {
        // Warmed as long as four closed-loop phases (10 s in a full run): long enough to be settled before the spell.
        log(`idle spell: ${node.version}, ${idleSeconds} s idle, then ${IDLE_WINDOWS} windows of ${idleWindowMs} ms at ${2 * opts.rate} req/s`)
        idleRows.set(node.key, await idleBurst(dir, pki, upstream, nginx, afterRounds(node), opts.users, 2 * opts.rate, idleSeconds, IDLE_WINDOWS, idleWindowMs, 4 * opts.durationMs))
      }
    }
  }
} finally {
  await Promise.allSettled(procs.reverse().map((q) => q.stop()))
  // The logs are complete once their processes have exited.
  for (const node of nodes) if (v8Log !== undefined) v8Logs.set(node.key, readV8Logs(join(dir, 'v8-logs', node.key)))
  if (sink) log(`tracing rows: the OTLP sink received ${sink.batches} batches`)
  await sink?.stop()
}
if (opts.mintHosts > 0) {
  mint = await runMint(dir, pki, opts.mintHosts)
  log(`interception: mint p50 ${mint.mintP50Ms.toFixed(2)} ms p99 ${mint.mintP99Ms.toFixed(2)} ms; minted for cached hosts ${mint.mintedOnCached}`)
}
if (parsed.keepDir) log(`kept ${dir}: profiles, recordings and logs of this run`)
else rmSync(dir, { recursive: true, force: true })

// RSS of the first node's production gateway after round 1: the trend (last third against
// first third), not the GC's sawtooth, says whether memory stays flat.
const firstNode = nodes[0] as BenchNode
const prodRss = rss.filter((r) => r.proc === `gateway-prod${many ? `-${firstNode.key}` : ''}`).slice(ids.length * bodies.length).map((r) => r.rss)
const third = Math.floor(prodRss.length / 3)
const drift = third >= 1 ? ((median(prodRss.slice(-third)) - median(prodRss.slice(0, third))) / median(prodRss.slice(0, third))) * 100 : undefined
const rssTarget = soaked ? { label: `gateway_realistic, ${soaked.seconds} s soak: the sawtooth's troughs and peaks, last third vs first third`, driftPct: soaked.driftPct } : drift === undefined ? undefined : { label: 'prod process between measurements after round 1: last third vs first third', driftPct: drift }
// Each node's view: its own paths (node part of the id dropped) beside the shared direct and nginx rows.
const perNode: NodeResult[] = nodes.map((node) => {
  const own = (id: PathId): boolean => !many || id.endsWith(`~${node.key}`) || !id.includes('~')
  const nodeSamples = samples.filter((x) => own(x.path)).map((x) => ({ ...x, path: withoutNode(x.path) }))
  const nodePeak = Object.fromEntries(Object.entries(peak).filter(([id]) => own(id)).map(([id, v]) => [withoutNode(id), v]))
  const rows = summarize(nodeSamples, nodePeak, [...new Set(ids.filter(own).map(withoutNode))])
  // Minting runs in the bench's own process and the soak on the first node: their targets go to the first node's table.
  const side = summarizeSide(sideSamples.filter((x) => own(x.path)).map((x) => ({ ...x, path: withoutNode(x.path) })))
  const againstFloor = summarizeFloorPairs(floorPairSamples.filter((x) => own(x.path)).map((x) => ({ ...x, path: withoutNode(x.path), group: withoutNode(x.group ?? '') })))
  const latency = summarizeLatencyPairs(latencyPairSamples.filter((x) => x.group === node.key).map((x) => ({ ...x, path: withoutNode(x.path) })))
  const targets = checkTargets(rows, node === firstNode ? mint : undefined, node === firstNode ? rssTarget : undefined, againstFloor, latency)
  const nodePairs = pairSamples.filter((x) => own(x.path)).map((x) => ({ ...x, path: withoutNode(x.path) }))
  const paired = summarizePairs(nodePairs)
  const aaPairs = summarizePairs(nodePairs, SAME)
  return { ...node, rows, targets, stages: withUnprofiled(stageProfiles.get(node.key) ?? [], nodeSamples), allocations: allocationProfiles.get(node.key) ?? [], idle: idleRows.get(node.key) ?? [], perf: perfSplits.get(node.key) ?? [], side, pairs: paired, aaPairs, floorPairs: againstFloor, latencyPairs: latency }
})
machine.loadAfter = (await machineInfo()).loadBefore
const { rows, targets } = perNode[0] as NodeResult
const result: BenchResult = { date, machine, options: { ...opts, prewarmMs, upstreamReadsBody, pinned: pinned ?? null }, rows, targets, ...(mint ? { mint } : {}), ...(soaked ? { soak: soaked } : {}), rss, samples, ...(floorPairSamples.length + latencyPairSamples.length > 0 ? { pairWindows: { floor: floorPairSamples, latency: latencyPairSamples } } : {}), nodes: perNode }
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
const setup = pinned ? `; load generator and upstream pinned to CPU ${pinned.load}, the proxy under test to CPU ${pinned.proxies}` : '; not pinned'
for (const n of perNode) {
  const machineLine = machine.summary.replace(/Node v[0-9.]+/, `Node ${n.version} (${n.binary})`) + setup + `; ${opts.rounds} rounds, medians; load ${machine.loadBefore.join(' ')} before, ${machine.loadAfter.join(' ')} after`
  process.stdout.write(`\n## ${n.version}\n\n` + markdown(n.rows, n.targets, n === firstNode ? mint : undefined, { users: opts.users, rate: opts.rate, machine: machineLine, ...(soaked && n === firstNode ? { soak: soaked } : {}) }))
  if (n.side.length > 0) process.stdout.write(`\nSide by side (${n.version}; the floor and the gateway paths driven at once, ${opts.users} connections each, every user cycling through them, all sharing the proxy CPU; ${sideRounds} rounds of ${sideMs} ms, medians; a same-window comparison, not the targets' figures: with several processes on one core each runs at a fraction of its throughput, where fixed per-wake-up costs weigh more):\n\n` + sideMarkdown(n.side))
  if (n.floorPairs.length > 0) process.stdout.write(`\nAgainst the floor in paired windows (${n.version}; ${floorPairs} sets per gateway path, each the path and the floor with one body, measured one at a time in ${pairMs} ms windows, the order rotating, every empty-body set before any 64 KiB set and a node's paths taking turns set by set; ratios taken within each set (64 KiB against the empty set of the same number, divided by the host's drift between the two as a second floor process serving only empty bodies measured it after each set number), then the median; the targets above use these):\n\n` + floorPairsMarkdown(n.floorPairs))
  if (n.latencyPairs.length > 0) process.stdout.write(`\nAdded latency in paced windows (${n.version}; ${latencyPairs} sets, each the direct path, the floor, mTLS only when it ran and the realistic path at ${opts.rate} req/s for ${opts.pacedMs} ms, one at a time in turn; the p50 of each against the direct path's of the same set, then the median; the target above uses these):\n\n` + latencyPairsMarkdown(n.latencyPairs))
  if (n.pairs.length > 0) process.stdout.write(`\nPaired windows against ${parsed.compare ?? ''} (${n.version}; each process measured alone, ${pairs} pairs of ${pairMs} ms windows per path, alternating which goes first; a same-window A/B that keeps each process's caches its own):\n\n` + pairsMarkdown(n.pairs))
  if (n.aaPairs.length > 0) process.stdout.write(`\nThe same pairs' A/A (--aa; ${n.version}; a second process set of this build taking its turn in each pair beside the two above): what the pairing reads where nothing differs, so a difference above smaller than the gap between this ratio and 1 is not shown by this run:\n\n` + pairsMarkdown(n.aaPairs, 'this build again'))
  if (n.perf.length > 0) process.stdout.write(`\nWhere the CPU goes, all threads (${n.version}; Linux perf sampling cpu-clock on the measured processes after the rounds, ${perfMs} ms per column; each sample's share of the window's /proc CPU):\n\n` + perfMarkdown(n.perf))
  const logs = v8Logs.get(n.key) ?? []
  if (v8Log !== undefined && logs.length > 0) process.stdout.write(`\nV8 log (${n.version}; --v8-log ${v8Log}, each proxy's whole run, start-up included: start-up work shows once per module, request-path work once per request, by the thousand):\n\n` + v8LogMarkdown(v8Log, logs))
  if (n.stages.length > 0) process.stdout.write(`\nWhere the CPU goes (${n.version}; profiled after the rounds, ${stagesMs} ms per column; main-thread CPU from /proc split by profile samples, then scaled to the same path's unprofiled main thread in the rounds, because sampling a deep stack costs the profiled process more than a shallow one):\n\n` + stageMarkdown(n.stages))
  if (n.allocations.length > 0) process.stdout.write(`\nWhat a request allocates (${n.version}; sampled after the rounds, ${allocMs} ms per column, objects the collector freed included; bytes per stage, by the stage table's rules):\n\n` + allocationMarkdown(n.allocations))
  if (n.idle.length > 0) process.stdout.write(`\nAfter an idle spell (${n.version}; fresh processes warmed, idle ${idleSeconds} s while the load generator stayed busy on the direct path, then ${idleWindowMs} ms windows at ${2 * opts.rate} req/s, each process in turn; each window's CPU per request against the median of the last three, and the upstream connections it opened):\n\n` + idleMarkdown(n.idle))
}
log(`results: ${out} (${((Date.now() - started) / 1000).toFixed(0)} s; load after ${machine.loadAfter.join(' ')})`)
const broken = perNode.flatMap((n) => [...[...n.rows, ...n.side].filter((r) => r.errors + r.mismatches + r.non200 > 0), ...n.pairs.filter((r) => r.errors > 0), ...n.floorPairs.filter((r) => r.errors > 0), ...[...n.latencyPairs, ...n.idle].filter((r) => r.errors > 0).map((r) => ({ path: r.path, body: 'empty' }))].map((r) => `${r.path}/${r.body}${many ? ` on ${n.version}` : ''}`))
if (broken.length > 0) {
  log(`FAILED: ${broken.join(', ')} had errors, wrong answers or non-200 statuses`)
  process.exitCode = 1
}
