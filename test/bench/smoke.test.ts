import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { BenchResult } from '../../bench/run.js'
import { assertDistFresh } from '../support/dist-fresh.js'

// A few-second run of the real benchmark (dist build, nginx upstream and baseline, both
// gateways as processes, the interception mode): the harness works and every path answers
// 200 with what the upstream must have seen. No timing assertions: figures belong to
// `npm run bench`, never to the test suite.
const RUN = 'dist/bench/run.js'
assertDistFresh(['src', 'bench'])
// Without Debian's echo module the upstream answers before reading a body; body paths then
// measure an artifact (see bench/peers.ts), so the smoke run keeps to empty bodies.
const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so'
/**
 * The smoke run's own windows, shorter than --quick's (figures are never read here, only that every
 * path answers and every phase writes its table): 10 users, not 50, so that a window's last requests
 * (each waiting behind the others on a loaded proxy CPU) do not stretch each phase by a p99 of
 * hundreds of ms; every window still long enough for requests, perf samples and a CPU tick.
 */
const SMOKE = ['--users', '10', '--warmup', '100', '--duration', '150', '--paced', '150', '--pair-ms', '150', '--side-ms', '150', '--fresh-warm', '150', '--idle-window', '250']
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-bench-smoke-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', reject)
    // 'close', not 'exit': the last of stdout may still be unread when the process has exited.
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A --quick run with only the given phases (no stage profile, perf split or minting): its JSON and what it printed. */
async function quickRun(name: string, args: string[]): Promise<{ result: BenchResult; stdout: string }> {
  const out = join(dir, `${name}.json`)
  const { code, stdout, stderr } = await runBench(['--quick', ...SMOKE, ...args, '--stages', '0', '--perf', '0', '--mint-hosts', '0', '--out', out])
  expect(code, stderr).toBe(0)
  return { result: JSON.parse(readFileSync(out, 'utf8')) as BenchResult, stdout }
}

const BODIES = existsSync(ECHO_MODULE) ? 'empty,64k' : 'empty'
const ALL_PATHS = 'direct,nginx,undici_forwarder,gateway_mtls,gateway_ops,gateway_realistic,gateway_limits_off,gateway_connect,gateway_user_sqlite,gateway_user_redis,gateway_traced_1pct,gateway_traced_100pct'
let everyPath: Promise<{ code: number | null; stdout: string; stderr: string; result: BenchResult | undefined }> | undefined
/**
 * One run of every path and body, with the side-by-side phase, the stage and perf tables, minting,
 * the added-latency windows (its paths are among them), the floor-pair sets of mTLS only, the
 * allocation table of the floor and the realistic path, and the idle spell: the tests below read
 * their parts of it. A run of its own per phase paid again for the upstream, nginx, the gateways'
 * start and a round of its paths: 6-9 s each at load 5, the latency windows' two thirds of theirs.
 * (The idle spell and the allocation table start fresh processes of their own whatever ran before.)
 */
function everyPathRun(): Promise<{ code: number | null; stdout: string; stderr: string; result: BenchResult | undefined }> {
  everyPath ??= (async () => {
    if (!existsSync(RUN)) throw new Error(`${RUN} is missing: run "npm run build" first (npm test does)`)
    const out = join(dir, 'result.json')
    const phases = ['--side-by-side', '1', '--latency-pairs', '2', '--floor-pairs', '2', '--floor-pairs-paths', 'gateway_mtls', '--alloc', '300', '--alloc-paths', 'undici_forwarder,gateway_realistic', '--idle', '1']
    const run = await runBench(['--quick', ...SMOKE, '--stages', '200', '--perf', '300', ...phases, '--paths', ALL_PATHS, '--bodies', BODIES, '--out', out])
    return { ...run, result: existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as BenchResult) : undefined }
  })()
  return everyPath
}

describe('npm run bench -- --quick', () => {
  it('drives every path to 200s, counts upstream handshakes, mints and caches leaves, writes JSON and a table', async () => {
    const bodies = BODIES
    const paths = ALL_PATHS
    const { code, stdout, stderr, result: written } = await everyPathRun()
    expect(code, stderr).toBe(0)
    const result = written as BenchResult
    const expected = paths.split(',').flatMap((path) => bodies.split(',').map((body) => `${path}/${body}`))
    expect(result.rows.map((r) => `${r.path}/${r.body}`).sort()).toEqual(expected.sort())
    for (const r of result.rows) {
      const where = `${r.path}/${r.body}`
      expect(r.requests, where).toBeGreaterThan(0)
      expect({ where, non200: r.non200, errors: r.errors, mismatches: r.mismatches }).toEqual({ where, non200: 0, errors: 0, mismatches: 0 })
      expect(r.cpuUsPerReq === null, where).toBe(r.path === 'direct')
      expect(Number.isFinite(r.handshakesPer1k), where).toBe(true)
    }
    for (const s of result.samples) {
      const where = `${s.path}/${s.body}`
      expect(Object.keys(s.statuses), where).toEqual(['200'])
      // Every path reuses kept-alive upstream connections (the direct path's are the load generator's own),
      // and the warm-up went on at least one slice to see that the pool had stopped growing.
      expect(s.poolSize, where).toBeGreaterThan(0)
      expect(s.settleMs, where).toBeGreaterThanOrEqual(250)
      expect(s.replacedPer1k, where).toBeLessThanOrEqual(s.handshakesPer1k)
    }
    expect(result.mint?.hosts).toBeGreaterThan(0)
    expect(result.mint?.mintedOnCached).toBe(0)
    expect(stdout).toContain('| path | body | req/s |')
    expect(stdout).toContain('| target | goal | this run | met |')
    expect(result.targets.map((t) => t.name)).toContain('per-user path req/s, Redis vs SQLite')
    // Tracing off, 1 % and 100 % sampled, priced against each other in the same run.
    expect(result.targets.map((t) => t.name)).toEqual(expect.arrayContaining(['gateway_traced_1pct: CPU/request vs tracing off (realistic)', 'gateway_traced_100pct: CPU/request vs tracing off (realistic)']))
    expect(stderr).toMatch(/the OTLP sink received [1-9]\d* batches/)
    // The all-thread split from Linux perf: a window per profiled path and body on the measured processes.
    expect(stdout).toContain('| category (µs/request) |')
    const split = result.nodes[0]?.perf ?? []
    expect(split.map((p) => `${p.path}/${p.body}`).sort()).toEqual(expected.filter((x) => /^(undici_forwarder|gateway_(mtls|ops|realistic|connect))\//.test(x)).sort())
    for (const p of split) {
      expect(p.samples, `${p.path}/${p.body}`).toBeGreaterThan(0)
      expect(Object.values(p.shares).reduce((x, y) => x + y, 0), `${p.path}/${p.body}`).toBeCloseTo(1, 6)
      expect(p.shares['JavaScript (JIT code, V8 builtins)'] ?? 0, `${p.path}/${p.body}`).toBeGreaterThan(0)
    }
    // The per-stage table: a profiled window per gateway path and body, its samples split by stage.
    // Every profiled path and body also ran in the rounds: the table is scaled to their unprofiled main thread.
    expect(stdout).toContain('| stage (µs/request, main thread, scaled to the rounds without the profiler) |')
    expect(stdout).toContain("| the profiler's inflation of the main thread |")
    const profiled = result.nodes[0]?.stages ?? []
    expect(profiled.map((p) => `${p.path}/${p.body}`).sort()).toEqual(expected.filter((x) => /^(undici_forwarder|gateway_(mtls|ops|realistic|connect))\//.test(x)).sort())
    for (const p of profiled) {
      expect(p.requests, `${p.path}/${p.body}`).toBeGreaterThan(0)
      expect(p.stages.length, `${p.path}/${p.body}`).toBeGreaterThan(0)
      expect(p.unprofiledMainUsPerReq, `${p.path}/${p.body}`).toBeGreaterThan(0)
    }
    // Gateway code shows up as gateway stages, not only as platform time (over all gateway windows: a short one may miss a step).
    const gatewayStages = profiled.filter((p) => p.path.startsWith('gateway')).flatMap((p) => p.stages.map((x) => x.stage))
    expect(gatewayStages.some((x) => /^(step |listener \+ pipeline|upstream dispatch)/.test(x)), gatewayStages.join(', ')).toBe(true)
    // The side-by-side phase: the floor and the three gateway paths, each answered with 200s in the same window.
    const side = result.nodes[0]?.side ?? []
    const sideExpected = expected.filter((x) => /^(undici_forwarder|gateway_(mtls|realistic|connect))\//.test(x)).sort()
    expect(side.map((r) => `${r.path}/${r.body}`).sort()).toEqual(sideExpected)
    for (const r of side) {
      expect({ path: r.path, body: r.body, errors: r.errors, mismatches: r.mismatches, non200: r.non200 }).toEqual({ path: r.path, body: r.body, errors: 0, mismatches: 0, non200: 0 })
      expect(r.requests, r.path).toBeGreaterThan(0)
      expect(Number.isFinite(r.cpuUsPerReq), r.path).toBe(true)
    }
    expect(stdout).toContain('Side by side (')
    // 24 paths and bodies, each starting its processes, then the phases after the rounds (latency
    // windows, floor pairs, perf, stages, allocations, the idle spell): this test waits for all of it.
  }, 400_000)

  // --compare against this very build: both sides answer 200 in every paired window, and each
  // pair puts one window of this build beside one of the other's; with --aa one of a second
  // process set of this build too, summarised apart (the pairing's own A/A).
  it('measures paired windows against a --compare build, and an A/A beside them with --aa', async () => {
    const { result, stdout } = await quickRun('pairs', ['--paths', 'gateway_mtls', '--bodies', 'empty', '--compare', resolve('dist'), '--pairs', '3', '--aa'])
    const pairs = result.nodes[0]?.pairs ?? []
    const aa = result.nodes[0]?.aaPairs ?? []
    expect(pairs.map((r) => `${r.path}/${r.body}/${r.pairs}`)).toEqual(['gateway_mtls/empty/3'])
    expect(aa.map((r) => `${r.path}/${r.body}/${r.pairs}`)).toEqual(['gateway_mtls/empty/3'])
    expect(stdout).toContain('The same pairs\' A/A (--aa;')
    for (const r of [...pairs, ...aa]) {
      expect(r.errors).toBe(0)
      expect(Number.isFinite(r.mineUs) && Number.isFinite(r.theirsUs) && Number.isFinite(r.ratio)).toBe(true)
      expect(r.mineLower).toBeGreaterThanOrEqual(0)
      expect(r.mineLower).toBeLessThanOrEqual(3)
    }
    expect(stdout).toContain(`Paired windows against ${resolve('dist')} (`)
  }, 120_000)

  // --floor-pairs: each gateway path with a CPU target set against the floor in windows taken
  // in turn, every body of both; the targets then read their ratios from these sets.
  // In the run of every path, with --floor-pairs-paths keeping the sets to mTLS only.
  it('measures the gateway paths against the floor in paired windows', async () => {
    const bodies = BODIES.split(',')
    const { code, stdout, stderr, result: written } = await everyPathRun()
    expect(code, stderr).toBe(0)
    const result = written as BenchResult
    const rows = result.nodes[0]?.floorPairs ?? []
    expect(rows.map((r) => `${r.path}/${r.body}/${r.pairs}`)).toEqual(bodies.map((b) => `gateway_mtls/${b}/2`))
    for (const r of rows) {
      expect(r.errors).toBe(0)
      expect(r.perPair).toHaveLength(2)
      expect(Number.isFinite(r.vsFloor) && r.gatewayUs > 0 && r.floorUs > 0).toBe(true)
      // With both bodies the host-speed probe ran, so the 64 KiB ratios are corrected by its drift.
      if (r.body === '64k') expect([r.vsEmpty, r.floorVsEmpty, r.hostDrift, r.uncorrectedVsEmpty].every((x) => Number.isFinite(x))).toBe(true)
    }
    expect(result.targets.map((t) => t.name)).toContain('gateway_mtls CPU/request vs the floor (undici forwarder), paired windows')
    expect(stdout).toContain('Against the floor in paired windows (')
    // Every window is kept as taken, numbered in order; every empty-body set before any 64 KiB one,
    // and with both bodies the probe (empty bodies only) after each set number of each half.
    const all = result.pairWindows?.floor ?? []
    expect(all.map((w) => w.seq)).toEqual(all.map((_, i) => i + 1))
    expect(all.every((w) => w.cpuUsPerReq > 0)).toBe(true)
    const probed = bodies.length === 2
    expect(all.filter((w) => w.path === 'floor_probe').map((w) => `${w.group}/${w.body}/${w.pair}`)).toEqual(probed ? ['floor_probe:empty/empty/1', 'floor_probe:empty/empty/2', 'floor_probe:64k/empty/1', 'floor_probe:64k/empty/2'] : [])
    const windows = all.filter((w) => w.path !== 'floor_probe')
    expect(windows).toHaveLength(2 * 2 * bodies.length)
    expect(windows.map((w) => w.body)).toEqual([...windows.map((w) => w.body)].sort((a, b) => (a === b ? 0 : a === 'empty' ? -1 : 1)))
    if (probed) expect(all.map((w) => (w.path === 'floor_probe' ? 'probe' : w.pair)).join(' ')).toBe('1 1 probe 2 2 probe 1 1 probe 2 2 probe')
  }, 300_000)

  // --latency-pairs: paced windows of direct, the floor, mTLS only and realistic taken in turn; the added-latency target reads them.
  // In the run of every path: direct, the floor, mTLS only and realistic are among them.
  it('measures the added latency in paced windows taken in turn', async () => {
    const { code, stdout, stderr, result: written } = await everyPathRun()
    expect(code, stderr).toBe(0)
    const result = written as BenchResult
    const rows = result.nodes[0]?.latencyPairs ?? []
    expect(rows.map((r) => `${r.path}/${r.pairs}`).sort()).toEqual(['gateway_mtls/2', 'gateway_realistic/2'])
    for (const r of rows) {
      expect(r.errors).toBe(0)
      expect(r.perPair).toHaveLength(2)
      expect(r.directP50Ms > 0 && Number.isFinite(r.addedMs) && Number.isFinite(r.floorAddedMs)).toBe(true)
    }
    expect(result.targets.map((t) => t.name)).toContain('realistic added p50 over direct (paced, 50 conns), paired windows')
    expect((result.pairWindows?.latency ?? []).map((w) => w.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(stdout).toContain('Added latency in paced windows (')
  }, 300_000)
})

describe('npm run bench -- --alloc', () => {
  // The sampler preloaded into the floor and the gateways, toggled by SIGUSR2 around each window.
  // In the run of every path, with --alloc-paths keeping the windows to the floor and the realistic path (every body).
  it('splits what each path allocates per request by stage', async () => {
    const { code, stdout, stderr, result: written } = await everyPathRun()
    expect(code, stderr).toBe(0)
    const profiles = (written as BenchResult).nodes[0]?.allocations ?? []
    expect(profiles.map((p) => `${p.path}/${p.body}`)).toEqual(['undici_forwarder', 'gateway_realistic'].flatMap((path) => BODIES.split(',').map((body) => `${path}/${body}`)))
    // The figures below are the empty body's: what a GET allocates.
    const empty = profiles.filter((p) => p.body === 'empty')
    const bytes = (path: string, stage: string): number => empty.find((p) => p.path === path)?.stages.find((s) => s.stage === stage)?.bytesPerReq ?? 0
    const total = (path: string): number => empty.find((p) => p.path === path)?.stages.reduce((t, s) => t + s.bytesPerReq, 0) ?? 0
    for (const p of profiles) expect(p.requests).toBeGreaterThan(0)
    // A proxied request allocates kilobytes (headers, parsers, promises): zero would mean the sampler saw nothing.
    expect(total('undici_forwarder')).toBeGreaterThan(2048)
    expect(total('gateway_realistic')).toBeGreaterThan(2048)
    // Signing and the access line are the realistic path's own; the floor has neither.
    expect(bytes('gateway_realistic', 'step sign_oauth1 (OAuth 1.0a)')).toBeGreaterThan(0)
    expect(bytes('gateway_realistic', 'access log line')).toBeGreaterThan(0)
    expect(bytes('undici_forwarder', 'step sign_oauth1 (OAuth 1.0a)')).toBe(0)
    expect(bytes('undici_forwarder', 'forwarder handler (floor)')).toBeGreaterThan(0)
    expect(stdout).toContain('What a request allocates (')
  }, 300_000)
})

describe('npm run bench -- --idle', () => {
  // Fresh floor and production gateway, warmed, idle while the generator stays busy elsewhere, then fixed-rate windows.
  // In the run of every path: the spell starts a fresh floor and production gateway of its own.
  it('measures the windows after an idle spell against the settled cost', async () => {
    const { code, stdout, stderr, result: written } = await everyPathRun()
    expect(code, stderr).toBe(0)
    const rows = (written as BenchResult).nodes[0]?.idle ?? []
    expect(rows.map((r) => r.path)).toEqual(['undici_forwarder', 'gateway_realistic'])
    for (const r of rows) {
      expect(r.errors, r.path).toBe(0)
      expect(r.windowsUs).toHaveLength(6)
      expect(r.windowsUs.every((w) => Number.isFinite(w) && w > 0), r.path).toBe(true)
      expect(r.settledUs).toBeGreaterThan(0)
      // Counted from nginx's stub_status around each window: never negative, and the windows see one pool.
      expect(r.upstreamConnections).toHaveLength(6)
      expect(r.upstreamConnections.every((c) => Number.isInteger(c) && c >= 0), r.path).toBe(true)
    }
    expect(stdout).toContain('After an idle spell (')
  }, 300_000)
})
