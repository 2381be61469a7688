/**
 * Where a proxy's CPU goes across all its threads, from `perf record` (Linux perf, sampling
 * cpu-clock) on the measured processes after the rounds. The stage table (bench/stages.ts)
 * sees only the main thread's JavaScript-visible samples; this one also sees the kernel, the
 * memory copies, OpenSSL and V8's helper threads (concurrent marking, sweeping, the
 * optimizing compiler), which is where most of a 64 KiB body's cost lies. Each sample is put in
 * one category by its thread (main or helper) and its symbol; JIT code has no symbol without a
 * perf map and counts as JavaScript by its anonymous mapping. Every window of a run is taken in
 * one perf session (bench/perf-session.ts) and cut out of it by process and time.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { closedLoop } from './load.js'
import { eachProfiledWindow, WARM_PROCESS_MS } from './measure.js'
import { PROFILED_PATHS, type BodyKind, type PathName, type PathSetup } from './paths.js'
import { startPerf } from './perf-session.js'
import { cpuMicros } from './procs.js'

export const CATEGORIES = [
  'JavaScript (JIT code, V8 builtins)',
  'native: Node, V8 runtime, libuv, libc',
  'memory copies (memcpy, memmove)',
  'TLS and crypto (OpenSSL, Node TLS glue)',
  'garbage collector, main thread',
  'kernel, main thread (syscalls, TCP, copies)',
  'helper threads: garbage collector',
  'helper threads: optimizing compiler',
  'helper threads: other',
] as const
export type Category = (typeof CATEGORIES)[number]

/** One profiled window of one path and body. */
export interface PerfWindow {
  path: PathName
  body: BodyKind
  requests: number
  /** The process's CPU per request in the window, all threads, from /proc (under perf). */
  cpuUsPerReq: number
  samples: number
  /** Share of the window's samples per category (0–1). */
  shares: Partial<Record<Category, number>>
}

const GC = /v8::internal::.*(?:Heap(?!Object|Number)|MarkCompact|MinorMarkSweep|Scaveng|Sweep|Marking|Evacuat|RememberedSet|MemoryAllocator|LargeObjectSpace|PagedSpace|GlobalHandles|MemoryChunk|SlotSet|TypedSlot|BodyDescriptorBase::Iterate)/
const COMPILER = /v8::internal::(?:compiler|maglev|turboshaft|baseline)::|OptimizingCompile|Compile(?:Job|Task)|Pipeline/
const COPY = /^_*(?:mem(?:move|cpy|set)|__memmove|__memcpy|__memset)/
const TLS = /^(?:ossl_|aes|gcm_|ghash|sha\d|SHA\d|EVP_|SSL_|ssl3?_|tls1?3?_|BIO_|bwrite|bread|CRYPTO_|OPENSSL_|bn_|BN_|ec_|ecp_|x25519|ChaCha|Poly1305|node::crypto::)/
const JS = /^(?:JS:|Builtins_|Builtin:|LazyCompile:|Function:|Script:)/

/** The category of one sample: its thread (main or not), symbol and object. */
export function categoryOf(mainThread: boolean, sym: string, dso: string): Category {
  const kernel = dso.startsWith('[kernel') || dso === '[vdso]'
  if (!mainThread) {
    if (!kernel && COMPILER.test(sym)) return 'helper threads: optimizing compiler'
    if (!kernel && GC.test(sym)) return 'helper threads: garbage collector'
    return 'helper threads: other'
  }
  if (kernel) return 'kernel, main thread (syscalls, TCP, copies)'
  if (COPY.test(sym)) return 'memory copies (memcpy, memmove)'
  if (TLS.test(sym)) return 'TLS and crypto (OpenSSL, Node TLS glue)'
  if (GC.test(sym)) return 'garbage collector, main thread'
  // JIT code lives in anonymous memory: no symbol without a perf map, and no object file.
  if (JS.test(sym) || dso === '[unknown]' || dso.startsWith('[JIT]') || /\/perf-\d+\.map$/.test(dso) || dso === '') return 'JavaScript (JIT code, V8 builtins)'
  return 'native: Node, V8 runtime, libuv, libc'
}

// "  9951/9951  7f12ab34cd56 Builtins_LoadIC ([...]/node)" (perf script -F pid,tid,ip,sym,dso), or with
// the time field after the tids: "  9951/9951  2512.004578:  7f12ab34cd56 Builtins_LoadIC ([...]/node)".
const SAMPLE = /^\s*(\d+)\/(\d+)\s+(?:(\d+\.\d+):\s+)?[0-9a-f]+\s+(.*?)\s*\(([^()]*)\)\s*$/

/** One sample line of `perf script`: process, thread, time (µs of CLOCK_MONOTONIC, when printed), symbol, object. */
interface SampleLine {
  pid: number
  tid: number
  us?: number
  sym: string
  dso: string
}

function sampleLines(script: string): SampleLine[] {
  const out: SampleLine[] = []
  for (const line of script.split('\n')) {
    const m = SAMPLE.exec(line)
    if (!m) continue
    const [, pid = '', tid = '', time, sym = '', dso = ''] = m
    out.push({ pid: Number(pid), tid: Number(tid), ...(time !== undefined ? { us: Math.round(Number(time) * 1e6) } : {}), sym, dso })
  }
  return out
}

function shareOf(lines: readonly SampleLine[]): { samples: number; shares: Partial<Record<Category, number>> } {
  const counts = new Map<Category, number>()
  for (const l of lines) {
    const c = categoryOf(l.pid === l.tid, l.sym, l.dso)
    counts.set(c, (counts.get(c) ?? 0) + 1)
  }
  const shares: Partial<Record<Category, number>> = {}
  for (const [c, n] of counts) shares[c] = n / lines.length
  return { samples: lines.length, shares }
}

/** Shares per category of `perf script -F pid,tid,ip,sym,dso` output; the main thread's tid is its pid. */
export function splitSamples(script: string): { samples: number; shares: Partial<Record<Category, number>> } {
  return shareOf(sampleLines(script))
}

/**
 * The shares of the samples of `pid` taken from `fromUs` to `toUs` (CLOCK_MONOTONIC, as
 * process.hrtime) in `perf script -F pid,tid,time,ip,sym,dso` output of a session over several processes.
 */
export function windowSamples(script: string, pid: number, fromUs: number, toUs: number): { samples: number; shares: Partial<Record<Category, number>> } {
  return shareOf(sampleLines(script).filter((l) => l.pid === pid && l.us !== undefined && l.us >= fromUs && l.us <= toUs))
}

/** True when `perf record` works here (installed, and allowed to profile). */
export function perfUsable(): boolean {
  try {
    execFileSync('perf', ['record', '-q', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

/** Samples process `pid` (every thread) while `during` runs; returns the shares and `during`'s result. */
export async function recordWhile<T>(pid: number, file: string, during: () => Promise<T>): Promise<{ result: T; samples: number; shares: Partial<Record<Category, number>> }> {
  const session = startPerf([pid], file)
  let script = ''
  let got: { result: T; fromUs: number; toUs: number }
  try {
    got = await session.window(during)
  } finally {
    script = await session.stop()
  }
  return { result: got.result, ...windowSamples(script, pid, got.fromUs, got.toUs) }
}

/** One window of `ms` per profiled path of `paths` and body, on the measured processes in `setups`, all in one perf session. */
export async function perfWindows(setups: Partial<Record<PathName, PathSetup>>, paths: readonly PathName[], bodies: readonly BodyKind[], users: number, ms: number, dir: string): Promise<PerfWindow[]> {
  const pids = [...new Set(PROFILED_PATHS.filter((x) => paths.includes(x)).flatMap((x) => setups[x]?.proxy?.pid ?? []))]
  if (pids.length === 0) return []
  const session = startPerf(pids, join(dir, `perf-${pids.join('-')}.data`))
  let script = ''
  let taken: { path: PathName; body: BodyKind; pid: number; requests: number; cpu: number; fromUs: number; toUs: number }[]
  try {
    taken = await eachProfiledWindow(setups, paths, bodies, users, WARM_PROCESS_MS, async ({ path, body, pid, target }) => {
      const { result, fromUs, toUs } = await session.window(async () => {
        const cpu0 = cpuMicros(pid)
        const r = await closedLoop(target, users, ms)
        return { requests: r.requests, cpu: cpuMicros(pid) - cpu0 }
      })
      return { path, body, pid, ...result, fromUs, toUs }
    })
  } finally {
    script = await session.stop()
  }
  return taken.flatMap(({ path, body, pid, requests, cpu, fromUs, toUs }) => {
    const got = windowSamples(script, pid, fromUs, toUs)
    return requests > 0 && got.samples > 0 ? [{ path, body, requests, cpuUsPerReq: cpu / requests, samples: got.samples, shares: got.shares }] : []
  })
}

const SHORT: Partial<Record<PathName, string>> = { undici_forwarder: 'floor', gateway_mtls: 'mTLS only', gateway_realistic: 'realistic', gateway_connect: 'CONNECT' }
const label = (p: PathName): string => SHORT[p] ?? p
const col = (w: PerfWindow): string => `${label(w.path)}, ${w.body === 'empty' ? 'GET' : '64 KiB'}`

/** µs per request per category, one column per window, and what a 64 KiB body adds per category. */
export function perfMarkdown(windows: readonly PerfWindow[]): string {
  if (windows.length === 0) return ''
  const us = (w: PerfWindow, c: Category): number => (w.shares[c] ?? 0) * w.cpuUsPerReq
  const used = CATEGORIES.filter((c) => windows.some((w) => (w.shares[c] ?? 0) > 0))
  const lines = [`| category (µs/request) | ${windows.map((w) => col(w)).join(' | ')} |`, `|---|${windows.map(() => '--:').join('|')}|`]
  for (const c of used) lines.push(`| ${c} | ${windows.map((w) => us(w, c).toFixed(0)).join(' | ')} |`)
  lines.push(`| **total** (CPU from /proc, under perf) | ${windows.map((w) => `**${w.cpuUsPerReq.toFixed(0)}**`).join(' | ')} |`)
  lines.push(`| samples | ${windows.map((w) => String(w.samples)).join(' | ')} |`)
  const pairs = [...new Set(windows.map((w) => w.path))].flatMap((p) => {
    const e = windows.find((w) => w.path === p && w.body === 'empty')
    const b = windows.find((w) => w.path === p && w.body === '64k')
    return e && b ? [{ p, e, b }] : []
  })
  if (pairs.length === 0) return lines.join('\n') + '\n'
  const added = [`| added by a 64 KiB body (µs/request) | ${pairs.map((x) => label(x.p)).join(' | ')} |`, `|---|${pairs.map(() => '--:').join('|')}|`]
  for (const c of used) added.push(`| ${c} | ${pairs.map((x) => (us(x.b, c) - us(x.e, c)).toFixed(0)).join(' | ')} |`)
  added.push(`| **total** | ${pairs.map((x) => `**${(x.b.cpuUsPerReq - x.e.cpuUsPerReq).toFixed(0)}**`).join(' | ')} |`)
  return lines.join('\n') + '\n\n' + added.join('\n') + '\n'
}
