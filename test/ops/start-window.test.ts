/**
 * The primary's start windows (ops/start-window.ts), on node:cluster's events with fake workers
 * and fake timers: a worker still starting at the end of its window is killed, the window pauses
 * while the primary holds the worker's config (a reload in progress, however long), and a worker
 * that listens or exits is forgotten. The kill's line says what follows it.
 */
import cluster, { type Worker } from 'node:cluster'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startWindowMs, watchStartWindows, type StartKillOutcome } from '../../src/ops/start-window.js'

const WINDOW_MS = 1000

function fakeWorker(pid: number): Worker & { kills: string[] } {
  const kills: string[] = []
  return { kills, isDead: () => false, process: { pid, kill: (signal: string) => void kills.push(signal) } } as unknown as Worker & { kills: string[] }
}

/** The pool's kill, as the primary wires it (its line is written when the worker exits). */
const kill = (w: Worker): void => void w.process.kill('SIGKILL')

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  cluster.removeAllListeners()
  vi.useRealTimers()
})

describe('start windows', () => {
  it('are 30 s plus --reload-timeout', () => {
    expect(startWindowMs(45_000)).toBe(75_000)
  })

  it('kill a worker still starting at the end of its window, and none that listens or exits first', () => {
    watchStartWindows(WINDOW_MS, kill, () => 'replaced')
    const [stuck, listening, gone] = [fakeWorker(1), fakeWorker(2), fakeWorker(3)]
    for (const w of [stuck, listening, gone]) cluster.emit('fork', w)
    cluster.emit('message', listening, { type: 'mtls-gateway:listening', url: 'http://x' })
    cluster.emit('exit', gone)
    vi.advanceTimersByTime(WINDOW_MS - 1)
    expect(stuck.kills).toEqual([])
    vi.advanceTimersByTime(1)
    expect([stuck.kills, listening.kills, gone.kills]).toEqual([['SIGKILL'], [], []])
  })

  it('pause while the primary holds the config, however long, and begin again when it comes', async () => {
    const windows = watchStartWindows(WINDOW_MS, kill, () => 'replaced')
    const w = fakeWorker(4)
    cluster.emit('fork', w)
    vi.advanceTimersByTime(WINDOW_MS - 1)
    let handOver: (texts: string) => void = () => undefined
    const held = windows.hold(w, new Promise<string>((resolve) => (handOver = resolve)))
    vi.advanceTimersByTime(100 * WINDOW_MS)
    expect(w.kills).toEqual([])
    handOver('texts')
    expect(await held).toBe('texts')
    vi.advanceTimersByTime(WINDOW_MS - 1)
    expect(w.kills).toEqual([])
    vi.advanceTimersByTime(1)
    expect(w.kills).toEqual(['SIGKILL'])
  })

  it('leave a worker that asked for its config twice, then listens, alone (one window per worker, never a stray one)', async () => {
    const windows = watchStartWindows(WINDOW_MS, kill, () => 'replaced')
    const w = fakeWorker(5)
    cluster.emit('fork', w)
    await Promise.all([windows.hold(w, Promise.resolve('texts')), windows.hold(w, Promise.resolve('texts'))])
    cluster.emit('message', w, { type: 'mtls-gateway:listening', url: 'http://x' })
    vi.advanceTimersByTime(100 * WINDOW_MS)
    expect(w.kills).toEqual([])
  })

  it('open no window for a worker that listens while a second request for its config is still held', async () => {
    const windows = watchStartWindows(WINDOW_MS, kill, () => 'replaced')
    const w = fakeWorker(6)
    cluster.emit('fork', w)
    let handOverLate: (texts: string) => void = () => undefined
    const late = windows.hold(w, new Promise<string>((resolve) => (handOverLate = resolve)))
    await windows.hold(w, Promise.resolve('texts'))
    cluster.emit('message', w, { type: 'mtls-gateway:listening', url: 'http://x' })
    handOverLate('texts')
    await late
    vi.advanceTimersByTime(100 * WINDOW_MS)
    expect(w.kills).toEqual([])
  })

  it("say what follows the kill: a replacement, the instance's start failing, or nothing while the instance drains", () => {
    const lines: { msg: string; worker: number }[] = []
    let outcome: StartKillOutcome = 'start_fails'
    watchStartWindows(WINDOW_MS, (w, why) => void lines.push({ msg: why.msg, worker: w.process.pid as number }), () => outcome)
    for (const [pid, now] of [[7, 'start_fails'], [8, 'replaced'], [9, 'not_replaced']] as const) {
      outcome = now
      cluster.emit('fork', fakeWorker(pid))
      vi.advanceTimersByTime(WINDOW_MS)
    }
    expect(lines.map(({ msg, worker }) => [worker, msg])).toEqual([
      [7, "worker still starting: killing it, and the instance's start fails"],
      [8, 'worker still starting: killing it to replace it'],
      [9, 'worker still starting while the instance drains: killing it, and nothing replaces it'],
    ])
  })
})
