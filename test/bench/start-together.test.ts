import { describe, expect, it } from 'vitest'
import { START_TOGETHER, startTogether, type Proc } from '../../bench/procs.js'

/** A stand-in process whose start takes `ms` and fails when `fail` is set. */
function fakeStart(name: string, ms: number, log: { running: number; most: number; stopped: string[] }, fail = false): () => Promise<Proc> {
  return async () => {
    log.running++
    log.most = Math.max(log.most, log.running)
    await new Promise((r) => setTimeout(r, ms))
    log.running--
    if (fail) throw new Error(`${name} did not start`)
    return { name, pid: -1, output: () => '', stop: async () => void log.stopped.push(name) }
  }
}

describe('startTogether (the bench starting its processes side by side)', () => {
  it('answers in the order asked, undefined for a process not needed, at most START_TOGETHER at once', async () => {
    const log = { running: 0, most: 0, stopped: [] as string[] }
    const procs: Proc[] = []
    const got = await startTogether(procs, [fakeStart('a', 30, log), undefined, fakeStart('b', 5, log), fakeStart('c', 10, log), fakeStart('d', 5, log), fakeStart('e', 1, log)])
    expect(got.map((p) => p?.name)).toEqual(['a', undefined, 'b', 'c', 'd', 'e'])
    expect(procs.map((p) => p.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(log.most).toBe(START_TOGETHER)
  })

  it('puts every process that started in the caller\'s list before throwing the first failure', async () => {
    const log = { running: 0, most: 0, stopped: [] as string[] }
    const procs: Proc[] = []
    await expect(startTogether(procs, [fakeStart('a', 5, log), fakeStart('b', 1, log, true), fakeStart('c', 20, log), fakeStart('d', 1, log)])).rejects.toThrow('b did not start')
    // The slower starts were waited for, so the caller's cleanup stops them too.
    expect(procs.map((p) => p.name).sort()).toEqual(['a', 'c', 'd'])
    expect(log.running).toBe(0)
  })
})
