/**
 * The command line of `npm run bench` (bench/run.ts): options parsed once into one object,
 * with the `--quick` and the full defaults side by side.
 */
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FRESH_PROCESS_MS, type MeasureOptions } from './measure.js'
import { benchNodes, type BenchNode } from './nodes.js'
import { PATHS, type BodyKind, type PathName } from './paths.js'

export const HELP = `usage: node dist/bench/run.js [options]
  --quick              smoke run: 1 short round, few mint hosts (results to a temp file unless --out)
  --rounds N           interleaved rounds (default 3)
  --prewarm MS         once per path and body before round 1: JIT, pools, leaf cache (default 1000)
  --warmup MS          warm-up per measurement (default 400)
  --duration MS        closed-loop phase per measurement (default 2500)
  --paced MS           paced phase per measurement (default 1500)
  --rate N             offered rate of the paced phase, req/s (default 1000)
  --users N            concurrent connections (default 50)
  --paths a,b          these paths (${PATHS.map((p) => p.name).join(', ')}; default all but gateway_ops)
  --bodies a,b         empty, 64k (default both)
  --mint-hosts N       hosts of the interception mode (default 200; 0 skips it)
  --no-proxy           only the interception mode
  --no-pin             do not pin (default with ≥ 2 CPUs: load generator and upstream on the first
                       CPU, every proxy on the last, so the proxies never share a core with the load)
  --soak S             then drive gateway_realistic for S seconds (≥ 30) sampling its RSS every second
  --profile DIR        run the gateways with node --cpu-prof, profiles into DIR
  --v8-log ic|maps     run the forwarder and the gateways with V8's --log-ic or --log-maps and print, per
                       process, the inline-cache misses by site or the maps V8 had to copy by key (objects
                       on the request path that each get a map of their own show up by the thousand); the logs
                       grow by megabytes a second per proxy: use it with --quick or a few short rounds
  --nodes A,B          node binaries running the forwarder and the gateways, each with its own tables
                       (default: MTLS_GATEWAY_BENCH_NODES, else this node plus scripts/node24.sh's cached Node 24)
  --side-by-side N     rounds of a side-by-side phase (default 0): the floor and the gateway paths (with
                       --compare, the other build's too) driven at once, each in its own process, all
                       sharing the proxy CPU; a same-window A/B on a busy machine, not the targets' figures
  --side-ms MS         length of one side-by-side round (default 3000)
  --pairs N            with --compare: N pairs of windows per gateway path and body, this build's and the
                       other build's process each measured alone, alternating (A B, B A, …); reports the
                       medians and in how many pairs this build was cheaper (default 0)
  --floor-pairs N      N sets of paired windows per gateway path with a CPU target (mTLS only, realistic,
                       CONNECT): the path and the floor, each with every body, measured one at a time in
                       turn; the targets' CPU ratios (against the floor, 64 KiB against empty) are then
                       the median of the ratios within each set (default 10; 0 skips; needs
                       undici_forwarder among the paths); every empty-body set runs before any 64 KiB
                       set (so no empty window pays for collections a 64 KiB window left) and a node's
                       paths take turns set by set (so no process idles through another path's sets);
                       with both bodies a second floor process that only serves empty bodies is measured
                       after each set number of each half, and the 64 KiB ratios are divided by its
                       drift between the halves (the host's speed; the plain figure stays beside it);
                       every window is kept in the results (pairWindows)
  --floor-pairs-paths a,b
                       only these of the gateway paths with a CPU target get floor-pair sets (default:
                       every one among --paths; a smoke run of every path can keep its sets few)
  --latency-pairs N    N sets of paced windows (the --rate, --paced long) of the direct path, the floor,
                       mTLS only (when among the paths) and the realistic path, measured one at a time in
                       turn, so the table shows what the bare pipeline and what the realistic path's
                       signing, field, log line and metrics add; the added-latency target is then
                       the median over the sets of realistic's p50 minus direct's (default 10; 0 skips;
                       needs direct, undici_forwarder and gateway_realistic among the paths)
  --pair-ms MS         length of one paired window (default 1000)
  --stages MS          per-stage cost table: profile each gateway path this long after the rounds
                       (default 2000; 0 skips)
  --idle S             after the rounds, fresh floor and production gateway processes, warmed, sit
                       idle S seconds (the load generator kept busy on the direct path), then run
                       six windows at twice --rate: each window's CPU per request against the
                       settled cost (default 0: skipped)
  --idle-window MS     length of each of those windows (default 1000; 500 under --quick, whose
                       figures are not kept)
  --fresh-warm MS      warm-up of each path and body on the processes the stage and allocation tables start
                       for themselves, before their window (default 3000; 300 under --quick)
  --settle MS          then, on the stage table's profiled processes, keep warming in 1 s chunks until
                       young collections are cheap and keep nothing (Node 24 promotes whole requests
                       until its request path is optimized), at most MS per path and body (default
                       30000; 0 under --quick: the fixed warm-up only)
  --alloc MS           per-stage allocation table: sample what each gateway path and the floor
                       allocate per request (V8's sampling heap profiler, collected objects
                       included) this long after the rounds (default 2000; 0 skips)
  --alloc-paths a,b    only these of the floor and the gateway paths get allocation windows
                       (default: every one among --paths)
  --perf MS            all-thread CPU split (kernel, copies, OpenSSL, GC and compiler threads, JavaScript)
                       from Linux perf on the measured processes after the rounds, this long per path
                       and body (default 2000; 0 skips; skipped with a note when perf cannot record)
  --compare DIST       also run the gateway paths of another build (its dist/, with bench/ built),
                       interleaved with this build's, as "<path>@before" rows
  --aa                 with --compare --pairs: a second process set of this build takes its turn in each
                       pair too, and its own table says what the pairing reads where nothing differs (an
                       A/A beside the A/B: two processes of one build have read 1.14 × apart here)
  --out FILE           results JSON (default bench/results/<date>.json, or <date>-2.json, -3, … when that
                       file exists: a second run the same day never overwrites the first)
  --keep-dir           keep the run's working directory and print its path: the stage table's CPU profiles
                       (cpu-prof-*/, for node dist/bench/prof.js), the allocation table's heap profiles
                       (*-alloc/heap-*.json), the --perf recordings (perf-*.data, for perf script -i) and the logs`

export interface BenchOptions {
  measure: MeasureOptions & { rounds: number; mintHosts: number }
  prewarmMs: number
  stagesMs: number
  /** Warm-up before each window of the stage and allocation tables' own fresh processes (--fresh-warm). */
  freshWarmMs: number
  /** Longest warm-up until the young generation settles, per profiled window (--settle; 0: fixed warm-up only). */
  settleMs: number
  /** Window of the allocation table per path and body (--alloc; 0 skips). */
  allocMs: number
  /** The paths the allocation table samples (--alloc-paths; default: every profiled one among `paths`). */
  allocPaths?: PathName[]
  /** Seconds the processes of the idle-spell table sit idle (--idle; 0 skips). */
  idleSeconds: number
  /** Length of each window after the idle spell (--idle-window). */
  idleWindowMs: number
  perfMs: number
  sideRounds: number
  sideMs: number
  pairs: number
  /** Sets of windows per gateway path against the floor (--floor-pairs). */
  floorPairs: number
  /** The paths that get floor-pair sets (--floor-pairs-paths; default: every one with a CPU target among `paths`). */
  floorPairPaths?: PathName[]
  /** Sets of paced windows of direct, the floor, mTLS only (when it runs) and realistic (--latency-pairs). */
  latencyPairs: number
  pairMs: number
  soakSeconds: number
  nodes: BenchNode[]
  paths: PathName[]
  bodies: BodyKind[]
  /** Where the results JSON goes. */
  out: string
  /** Leave the working directory (profiles, recordings, logs) in place and print where (--keep-dir). */
  keepDir: boolean
  date: string
  compare?: string
  /** With compare: a second process set of this build in every pair (--aa). */
  aa: boolean
  profile?: string
  /** Run the proxies with V8's --log-ic or --log-maps and summarise each log (bench/v8-log.ts). */
  v8Log?: 'ic' | 'maps'
  noProxy: boolean
  noPin: boolean
}

/** bench/results/<day>.json, or the first of <day>-2.json, <day>-3.json, … that does not exist yet. */
export function defaultOut(resultsDir: string, day: string, exists: (file: string) => boolean = existsSync): string {
  let file = join(resultsDir, `${day}.json`)
  for (let n = 2; exists(file); n++) file = join(resultsDir, `${day}-${n}.json`)
  return file
}

/** Parses the bench's arguments; 'help' when --help was asked for. */
export function benchOptions(args: readonly string[], now: Date = new Date(), resultsDir = join(new URL('../..', import.meta.url).pathname, 'bench', 'results')): BenchOptions | 'help' {
  const { values: a } = parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      prewarm: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      paced: { type: 'string' },
      rate: { type: 'string' },
      users: { type: 'string' },
      paths: { type: 'string' },
      bodies: { type: 'string' },
      'mint-hosts': { type: 'string' },
      'no-proxy': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      profile: { type: 'string' },
      'v8-log': { type: 'string' },
      compare: { type: 'string' },
      aa: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      stages: { type: 'string' },
      settle: { type: 'string' },
      alloc: { type: 'string' },
      'alloc-paths': { type: 'string' },
      'fresh-warm': { type: 'string' },
      idle: { type: 'string' },
      'idle-window': { type: 'string' },
      perf: { type: 'string' },
      'side-by-side': { type: 'string' },
      'side-ms': { type: 'string' },
      pairs: { type: 'string' },
      'floor-pairs': { type: 'string' },
      'floor-pairs-paths': { type: 'string' },
      'latency-pairs': { type: 'string' },
      'pair-ms': { type: 'string' },
      soak: { type: 'string' },
      out: { type: 'string' },
      'keep-dir': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (a.help) return 'help'
  const v8Log = a['v8-log']
  if (v8Log !== undefined && v8Log !== 'ic' && v8Log !== 'maps') throw new Error(`--v8-log takes ic or maps, not ${v8Log}`)
  const quick = a.quick === true
  const num = (v: string | undefined, whenQuick: number, full: number): number => (v !== undefined ? Number(v) : quick ? whenQuick : full)
  const date = now.toISOString()
  return {
    measure: {
      rounds: num(a.rounds, 1, 3),
      warmupMs: num(a.warmup, 150, 400),
      durationMs: num(a.duration, 300, 2500),
      pacedMs: num(a.paced, 250, 1500),
      rate: num(a.rate, 250, 1000),
      users: num(a.users, 50, 50),
      mintHosts: num(a['mint-hosts'], 5, 200),
    },
    prewarmMs: num(a.prewarm, 0, 1000),
    stagesMs: num(a.stages, 300, 2000),
    freshWarmMs: num(a['fresh-warm'], 300, FRESH_PROCESS_MS),
    settleMs: num(a.settle, 0, 30_000),
    allocMs: num(a.alloc, 0, 2000),
    idleSeconds: num(a.idle, 0, 0),
    idleWindowMs: num(a['idle-window'], 500, 1000),
    perfMs: num(a.perf, 500, 2000),
    sideRounds: num(a['side-by-side'], 0, 0),
    sideMs: num(a['side-ms'], 300, 3000),
    pairs: num(a.pairs, 0, 0),
    floorPairs: num(a['floor-pairs'], 0, 10),
    latencyPairs: num(a['latency-pairs'], 0, 10),
    pairMs: num(a['pair-ms'], 300, 1000),
    soakSeconds: Number(a.soak ?? 0),
    nodes: benchNodes(a.nodes, quick),
    paths: (a.paths?.split(',') ?? PATHS.filter((p) => !p.extra).map((p) => p.name)) as PathName[],
    bodies: (a.bodies?.split(',') ?? ['empty', '64k']) as BodyKind[],
    out: a.out ?? (quick ? join(tmpdir(), `mtls-gateway-bench-${now.getTime()}.json`) : defaultOut(resultsDir, date.slice(0, 10))),
    date,
    keepDir: a['keep-dir'] === true,
    ...(a['floor-pairs-paths'] !== undefined ? { floorPairPaths: a['floor-pairs-paths'].split(',') as PathName[] } : {}),
    ...(a['alloc-paths'] !== undefined ? { allocPaths: a['alloc-paths'].split(',') as PathName[] } : {}),
    ...(a.compare !== undefined ? { compare: resolve(a.compare) } : {}),
    ...(a.profile !== undefined ? { profile: a.profile } : {}),
    ...(v8Log !== undefined ? { v8Log } : {}),
    noProxy: a['no-proxy'] === true,
    noPin: a['no-pin'] === true,
    aa: a.aa === true,
  }
}
