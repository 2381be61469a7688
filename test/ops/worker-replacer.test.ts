/**
 * The `--workers` replacement policy (ops/worker-replacer.ts) on fake workers and fake timers: a
 * worker that served and was drained on purpose is replaced at once; a crash, and a worker killed
 * before it served (its start outlasted a reload), wait out one shared backoff, which forgets
 * setbacks older than 30 s, so a reload storm's kills slow down and a quiet spell resets it.
 */
import type { Worker } from 'node:cluster'
import pino from 'pino'
import { Counter, Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createWorkerReplacer } from '../../src/ops/worker-replacer.js'

const worker = (pid: number): Worker => ({ process: { pid } }) as unknown as Worker

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('worker replacer', () => {
  it('replaces a served, drained worker at once; a crash or a kill before serving after the shared backoff, reset after 30 s quiet', () => {
    const forks: number[] = []
    const served = worker(1)
    const registry = new Registry()
    const restarts = new Counter({ name: 'restarts_test', help: 'x', registers: [registry] })
    const r = createWorkerReplacer({ logger: pino({ enabled: false }), restarts, serving: { has: (w) => w === served }, stopping: () => false, fork: () => void forks.push(Date.now()) })
    r.drained(served, 'reload_unanswered', 0, '')
    expect(forks).toEqual([1_000_000])
    // Kills before serving and crashes share one history: 100, 200, 400 ms…
    r.drained(worker(2), 'start_outlasted_reload', 0, 'SIGKILL')
    vi.advanceTimersByTime(99)
    expect(forks).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(forks).toHaveLength(2)
    r.exited(worker(3), 1, '')
    vi.advanceTimersByTime(199)
    expect(forks).toHaveLength(2)
    vi.advanceTimersByTime(1)
    r.drained(worker(4), 'start_outlasted_reload', 0, 'SIGKILL')
    vi.advanceTimersByTime(399)
    expect(forks).toHaveLength(3)
    vi.advanceTimersByTime(1)
    expect(forks).toHaveLength(4)
    // A served worker's drain adds nothing to the history; 31 s with no setback resets it to 100 ms.
    r.drained(served, 'rollback_failed', 0, '')
    expect(forks).toHaveLength(5)
    vi.advanceTimersByTime(31_000)
    r.drained(worker(5), 'start_outlasted_reload', 0, 'SIGKILL')
    vi.advanceTimersByTime(100)
    expect(forks).toHaveLength(6)
    // Only the crash counts as a restart.
    return registry.getSingleMetricAsString('restarts_test').then((text) => expect(text).toMatch(/^restarts_test 1$/m))
  })

  it('judges a clean exit once its backoff is over: replaced and said at warn unless the primary is stopping by then (a group signal), when nothing is said or forked', () => {
    const forks: number[] = []
    const lines: Record<string, unknown>[] = []
    const logger = pino({ base: null, timestamp: false }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) })
    let stopping = false
    const restarts = new Counter({ name: 'restarts_clean_test', help: 'x', registers: [new Registry()] })
    const r = createWorkerReplacer({ logger, restarts, serving: { has: () => true }, stopping: () => stopping, fork: () => void forks.push(Date.now()) })
    r.exited(worker(1), 0, '')
    // Nothing said at the exit: the primary's own signal may be on its way.
    expect(lines).toEqual([])
    vi.advanceTimersByTime(100)
    expect(forks).toEqual([1_000_100])
    expect(lines).toMatchObject([{ level: 40, worker: 1, code: 0, waitedMs: 100, msg: 'worker exited on its own (code 0): replacing it' }])
    // The primary caught its drain signal within the backoff: the exit was the drain's.
    r.exited(worker(2), 0, '')
    stopping = true
    vi.advanceTimersByTime(200)
    expect(forks).toHaveLength(1)
    expect(lines).toHaveLength(1)
    // A drain calling off a clean exit still being judged announced nothing, so says nothing; a crash's announced replacement it does.
    stopping = false
    r.exited(worker(3), 0, '')
    r.exited(worker(4), 1, '')
    r.cancel()
    vi.advanceTimersByTime(10_000)
    expect(forks).toHaveLength(1)
    expect(lines.slice(1).map((l) => [l.worker, l.msg])).toEqual([[4, 'worker exited unexpectedly: replacing it'], [4, 'replacement cancelled: the instance is draining']])
  })
})
