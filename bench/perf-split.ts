/**
 * Where a proxy's CPU goes across all its threads, from `perf record` (Linux perf, sampling
 * cpu-clock) on the measured processes after the rounds. The stage table (bench/stages.ts)
 * sees only the main thread's JavaScript-visible samples; this one also sees the kernel, the
 * memory copies, OpenSSL and V8's helper threads (concurrent marking, sweeping, the
 * optimizing compiler), which is where most of a 64 KiB body's cost lies. Each sample is put in
 * one category by its thread (main or helper) and its symbol; JIT code has no symbol without a
 * perf map and counts as JavaScript by its anonymous mapping.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { closedLoop } from './load.js'
import { eachProfiledWindow, WARM_PROCESS_MS } from './measure.js'
import type { BodyKind, PathName, PathSetup } from './paths.js'
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

// "  9951/9951  7f12ab34cd56 Builtins_LoadIC ([...]/node)" (perf script -F pid,tid,ip,sym,dso)
const SAMPLE = /^\s*(\d+)\/(\d+)\s+[0-9a-f]+\s+(.*?)\s*\(([^()]*)\)\s*$/

/** Shares per category of `perf script -F pid,tid,ip,sym,dso` output; the main thread's tid is its pid. */
export function splitSamples(script: string): { samples: number; shares: Partial<Record<Category, number>> } {
  const counts = new Map<Category, number>()
  let samples = 0
  for (const line of script.split('\n')) {
    const m = SAMPLE.exec(line)
    if (!m) continue
    const [, pid, tid, sym = '', dso = ''] = m
    const c = categoryOf(pid === tid, sym, dso)
    counts.set(c, (counts.get(c) ?? 0) + 1)
    samples++
  }
  const shares: Partial<Record<Category, number>> = {}
  for (const [c, n] of counts) shares[c] = n / samples
  return { samples, shares }
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

/** How long perf may take to attach and answer (a loaded 2-core machine took seconds). */
const PERF_ATTACH_MS = 30_000

/**
 * Samples process `pid` (every thread) while `during` runs; returns the shares and `during`'s result.
 * perf starts with its events off and turns them on when told, answering once they are on
 * (`--delay=-1 --control`): the window begins only then, however long perf took to attach (a
 * fixed 300 ms wait once left two windows of a loaded machine's smoke run without a sample).
 */
export async function recordWhile<T>(pid: number, file: string, during: () => Promise<T>): Promise<{ result: T; samples: number; shares: Partial<Record<Category, number>> }> {
  const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '999', '-p', String(pid), '-o', file, '--delay=-1', '--control=fd:3,4'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] })
  const exited = once(perf, 'exit')
  const control = perf.stdio[3] as NodeJS.WritableStream
  const acks = perf.stdio[4] as NodeJS.ReadableStream
  let result: T
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`perf record -p ${pid} did not start sampling within ${PERF_ATTACH_MS} ms`)), PERF_ATTACH_MS)
      acks.once('data', () => {
        clearTimeout(timer)
        resolve()
      })
      // Exited, or could not be spawned at all ('error', which rejects `exited`): no window.
      const gone = (): void => {
        clearTimeout(timer)
        reject(new Error(`perf record -p ${pid} exited before sampling`))
      }
      exited.then(gone, gone)
      control.write('enable\n')
    })
    result = await during()
  } finally {
    perf.kill('SIGINT')
    await exited
  }
  let script = ''
  try {
    script = execFileSync('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    // perf wrote nothing (the process was gone): no samples, and the window is left out.
  }
  return { result, ...splitSamples(script) }
}

/** One window of `ms` per profiled path of `paths` and body, on the measured processes in `setups`. */
export function perfWindows(setups: Partial<Record<PathName, PathSetup>>, paths: readonly PathName[], bodies: readonly BodyKind[], users: number, ms: number, dir: string): Promise<PerfWindow[]> {
  return eachProfiledWindow(setups, paths, bodies, users, WARM_PROCESS_MS, async ({ path, body, pid, target }) => {
    const got = await recordWhile(pid, join(dir, `perf-${pid}-${path}-${body}.data`), async () => {
      const cpu0 = cpuMicros(pid)
      const r = await closedLoop(target, users, ms)
      return { requests: r.requests, cpu: cpuMicros(pid) - cpu0 }
    })
    const { requests, cpu } = got.result
    return requests > 0 && got.samples > 0 ? { path, body, requests, cpuUsPerReq: cpu / requests, samples: got.samples, shares: got.shares } : undefined
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
