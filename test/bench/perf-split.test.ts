import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { categoryOf, perfMarkdown, perfUsable, recordWhile, splitSamples, windowSamples, type PerfWindow } from '../../bench/perf-split.js'
import { startPerf } from '../../bench/perf-session.js'

const NODE = '/usr/bin/node'
describe('categoryOf (one perf sample: main thread or not, symbol, object)', () => {
  it.each([
    [true, "JS:*'sign file:///app/dist/src/oauth1/sign.js:147:13", '[JIT] tid 9951', 'JavaScript (JIT code, V8 builtins)'],
    [true, '[unknown]', '/tmp/perf-10696.map', 'JavaScript (JIT code, V8 builtins)'],
    [true, '[unknown]', '[unknown]', 'JavaScript (JIT code, V8 builtins)'],
    [true, 'Builtins_KeyedLoadIC_Megamorphic', NODE, 'JavaScript (JIT code, V8 builtins)'],
    [true, '__memmove_avx512_unaligned_erms', '/usr/lib/x86_64-linux-gnu/libc.so.6', 'memory copies (memcpy, memmove)'],
    [true, 'ossl_aes_gcm_encrypt_avx512', NODE, 'TLS and crypto (OpenSSL, Node TLS glue)'],
    [true, 'node::crypto::TLSWrap::DoWrite', NODE, 'TLS and crypto (OpenSSL, Node TLS glue)'],
    [true, 'v8::internal::Scavenger::ScavengePage', NODE, 'garbage collector, main thread'],
    [true, 'v8::internal::RootScavengeVisitor::VisitRootPointer', NODE, 'garbage collector, main thread'],
    [true, 'v8::internal::HeapObject::SizeFromMap', NODE, 'native: Node, V8 runtime, libuv, libc'],
    [true, 'pvm_irq_enable', '[kernel.kallsyms]', 'kernel, main thread (syscalls, TCP, copies)'],
    [true, 'uv__io_poll', NODE, 'native: Node, V8 runtime, libuv, libc'],
    [true, 'llhttp__internal_execute', NODE, 'native: Node, V8 runtime, libuv, libc'],
    [true, '_int_malloc', '/usr/lib/x86_64-linux-gnu/libc.so.6', 'native: Node, V8 runtime, libuv, libc'],
    [false, 'v8::internal::ConcurrentMarking::RunMajor', NODE, 'helper threads: garbage collector'],
    [false, 'v8::internal::Sweeper::RawSweep', NODE, 'helper threads: garbage collector'],
    [false, 'v8::internal::compiler::GraphReducer::ReduceTop', NODE, 'helper threads: optimizing compiler'],
    [false, 'v8::internal::compiler::JSHeapBroker::GetOrCreateData', NODE, 'helper threads: optimizing compiler'],
    [false, 'pvm_irq_enable', '[kernel.kallsyms]', 'helper threads: other'],
    [false, '__memmove_avx512_unaligned_erms', '/usr/lib/x86_64-linux-gnu/libc.so.6', 'helper threads: other'],
  ] as const)('main %s, %s (%s) → %s', (main, sym, dso, want) => {
    expect(categoryOf(main, sym, dso)).toBe(want)
  })
})

describe('splitSamples (perf script -F pid,tid,ip,sym,dso)', () => {
  it('counts each sample once, by thread and symbol, and skips what is not a sample', () => {
    const script = [
      '  9951/9951      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)',
      '  9951/9951  ffffffff8225f759 pvm_irq_enable ([kernel.kallsyms])',
      '  9951/9951      7fa6025994a4 v8::internal::(anonymous namespace)::Invoke (/usr/bin/node)',
      '  9951/9953      55d0c0ffee00 v8::internal::ConcurrentMarking::RunMajor (/usr/bin/node)',
      'not a sample line',
      '',
    ].join('\n')
    const { samples, shares } = splitSamples(script)
    expect(samples).toBe(4)
    expect(shares).toEqual({
      'JavaScript (JIT code, V8 builtins)': 0.25,
      'kernel, main thread (syscalls, TCP, copies)': 0.25,
      'native: Node, V8 runtime, libuv, libc': 0.25,
      'helper threads: garbage collector': 0.25,
    })
  })
})

describe('windowSamples (perf script -F pid,tid,time,ip,sym,dso of a session over several processes)', () => {
  it("keeps the samples of one process within one window's times, bounds included", () => {
    const script = [
      '  9951/9951  2512.000999:      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)',
      '  9951/9951  2512.001000:      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)',
      '  9951/9953  2512.500000:      55d0c0ffee00 v8::internal::ConcurrentMarking::RunMajor (/usr/bin/node)',
      '  7777/7777  2512.600000:      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)',
      '  9951/9951  2513.001000:  ffffffff8225f759 pvm_irq_enable ([kernel.kallsyms])',
      '  9951/9951  2513.001001:      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)',
    ].join('\n')
    expect(windowSamples(script, 9951, 2512_001_000, 2513_001_000)).toEqual({
      samples: 3,
      shares: { 'JavaScript (JIT code, V8 builtins)': 1 / 3, 'helper threads: garbage collector': 1 / 3, 'kernel, main thread (syscalls, TCP, copies)': 1 / 3 },
    })
    expect(windowSamples(script, 7777, 2512_001_000, 2513_001_000).samples).toBe(1)
    // Lines without a time (perf script without the field) belong to no window.
    expect(windowSamples('  9951/9951      7f12ab34cd56 Builtins_LoadIC (/usr/bin/node)', 9951, 0, Number.MAX_SAFE_INTEGER).samples).toBe(0)
  })
})

describe('perfMarkdown', () => {
  const w = (path: PerfWindow['path'], body: PerfWindow['body'], cpuUsPerReq: number, shares: PerfWindow['shares']): PerfWindow => ({ path, body, requests: 1000, cpuUsPerReq, samples: 500, shares })
  it('gives µs per request per category and what a 64 KiB body adds, only for categories seen', () => {
    const md = perfMarkdown([
      w('undici_forwarder', 'empty', 100, { 'JavaScript (JIT code, V8 builtins)': 0.6, 'kernel, main thread (syscalls, TCP, copies)': 0.4 }),
      w('undici_forwarder', '64k', 250, { 'JavaScript (JIT code, V8 builtins)': 0.24, 'kernel, main thread (syscalls, TCP, copies)': 0.36, 'memory copies (memcpy, memmove)': 0.4 }),
    ])
    expect(md).toContain('| category (µs/request) | floor, GET | floor, 64 KiB |')
    expect(md).toContain('| JavaScript (JIT code, V8 builtins) | 60 | 60 |')
    expect(md).toContain('| memory copies (memcpy, memmove) | 0 | 100 |')
    expect(md).toContain('| **total** (CPU from /proc, under perf) | **100** | **250** |')
    expect(md).toContain('| added by a 64 KiB body (µs/request) | floor |')
    expect(md).toContain('| kernel, main thread (syscalls, TCP, copies) | 50 |')
    expect(md).toContain('| memory copies (memcpy, memmove) | 100 |')
    expect(md).toContain('| **total** | **150** |')
    expect(md).not.toContain('helper threads')
  })
  it('prints nothing for no windows, and no added table without both bodies', () => {
    expect(perfMarkdown([])).toBe('')
    expect(perfMarkdown([w('gateway_mtls', 'empty', 80, { 'JavaScript (JIT code, V8 builtins)': 1 })])).not.toContain('added by')
  })
})

describe('recordWhile (real perf, a real node process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-split-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  it('samples every thread of a busy process and finds its JavaScript', async () => {
    expect(perfUsable(), 'perf record must work here (scripts/install-peers.sh installs linux-perf)').toBe(true)
    // A child spinning in JavaScript until killed: its samples must be mostly JavaScript.
    const child = spawn(process.execPath, ['-e', 'let x = 0; for (;;) { x = (x + Math.sqrt(x + 1)) % 1e9 }'], { stdio: 'ignore' })
    try {
      // Stopped (SIGSTOP) at the window's end: it would spin through perf's exit and `perf script` for nothing.
      const got = await recordWhile(child.pid as number, join(dir, 'busy.data'), () => new Promise<string>((r) => setTimeout(() => r((child.kill('SIGSTOP'), 'done')), 1500)))
      expect(got.result).toBe('done')
      expect(got.samples).toBeGreaterThan(100)
      expect(got.shares['JavaScript (JIT code, V8 builtins)'] ?? 0).toBeGreaterThan(0.5)
      const total = Object.values(got.shares).reduce((a, b) => a + b, 0)
      expect(total).toBeCloseTo(1, 6)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('samples two processes in one session, each window only its own process and time', async () => {
    // Two children spinning in JavaScript; a window on each in turn, sampling off in between (a
    // second of both spinning between windows; none after the last, where sampling left on would
    // add nothing the second between windows does not already show).
    const spin = (): ReturnType<typeof spawn> => spawn(process.execPath, ['-e', 'let x = 0; for (;;) { x = (x + Math.sqrt(x + 1)) % 1e9 }'], { stdio: 'ignore' })
    const [a, b] = [spin(), spin()]
    try {
      const [pa, pb] = [a.pid as number, b.pid as number]
      const session = startPerf([pa, pb], join(dir, 'two.data'))
      const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
      let script = ''
      const windows: { pid: number; fromUs: number; toUs: number }[] = []
      try {
        for (const [i, pid] of [pa, pb, pa].entries()) {
          if (i > 0) await pause(1000)
          windows.push({ pid, ...(await session.window(() => pause(500))) })
        }
      } finally {
        // Both stopped (SIGSTOP) first: sampling is off after the last window, and spinning through perf's exit and `perf script` costs the machine seconds.
        for (const c of [a, b]) c.kill('SIGSTOP')
        script = await session.stop()
      }
      // Each window has samples of its process (how many depends on what else the machine runs).
      for (const w of windows) expect(windowSamples(script, w.pid, w.fromUs, w.toUs).samples, String(w.pid)).toBeGreaterThan(0)
      // Sampling was off between the windows (a second of both spinning between each two): of all samples, only
      // those between perf's answer and the window's first clock reading (and the last and perf's answer) fall
      // outside. Sampled throughout, four sevenths would; a third leaves a loaded machine's scheduling room.
      const all = windowSamples(script, pa, 0, Number.MAX_SAFE_INTEGER).samples + windowSamples(script, pb, 0, Number.MAX_SAFE_INTEGER).samples
      const inWindows = windows.reduce((n, w) => n + windowSamples(script, pa, w.fromUs, w.toUs).samples + windowSamples(script, pb, w.fromUs, w.toUs).samples, 0)
      expect(all - inWindows).toBeLessThan(all / 3)
    } finally {
      a.kill('SIGKILL')
      b.kill('SIGKILL')
    }
  })
})
