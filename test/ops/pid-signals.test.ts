/**
 * test/support/signals.ts sends a signal by pid number only to the process the test took: not to
 * one that exited, nor to another process that has its pid by now (the start time recorded when
 * it was taken differs), nor to a worker pid read from a log that is not the primary's child.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { exitedOf } from '../support/process.js'
import { procStat, sendSignal, signalGroup, take, type ProcStat, type StatReader } from '../support/signals.js'
import { eventually } from '../support/eventually.js'
import { stateOf } from '../support/stopped-process.js'

const sleepers: ChildProcess[] = []
const sleeper = (): ChildProcess => {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' })
  sleepers.push(child)
  return child
}
afterEach(() => {
  vi.restoreAllMocks()
  for (const child of sleepers.splice(0)) child.kill('SIGKILL')
})

/** A reader that answers `stat` for every pid (a process that has another start time, state or parent). */
const reading = (stat: Partial<ProcStat>): StatReader => (pid) => ({ ...(procStat(pid) ?? { state: 'S', ppid: 1, pgrp: pid, start: '1' }), ...stat })

describe('signals by pid number (test/support/signals.ts)', () => {
  it('sends to a taken pid while it is that process: SIGSTOP stops it, SIGCONT continues it', async () => {
    const child = sleeper()
    const pid = take(child.pid as number, process.pid)
    expect(sendSignal(pid, 'SIGSTOP')).toBe(true)
    await eventually(() => stateOf(pid) === 'T', 10_000, 'the sleeper to stop')
    expect(sendSignal(pid, 'SIGCONT')).toBe(true)
    await eventually(() => stateOf(pid) !== 'T', 10_000, 'the sleeper to continue')
  })

  it('sends nothing to a pid whose process exited (and was reaped)', async () => {
    const child = sleeper()
    const pid = take(child.pid as number)
    child.kill('SIGKILL')
    await exitedOf(child)
    const kill = vi.spyOn(process, 'kill')
    expect(sendSignal(pid, 'SIGCONT')).toBe(false)
    expect(sendSignal(child, 'SIGCONT')).toBe(false)
    expect(kill).not.toHaveBeenCalled()
  })

  it('sends nothing when the pid now has another start time: another process got the number', () => {
    const child = sleeper()
    const pid = take(child.pid as number)
    const kill = vi.spyOn(process, 'kill')
    const start = procStat(pid)?.start
    expect(sendSignal(pid, 'SIGCONT', undefined, reading({ start: `${start}0` }))).toBe(false)
    expect(sendSignal(pid, 'SIGCONT', undefined, reading({ state: 'Z' }))).toBe(false)
    expect(kill).not.toHaveBeenCalled()
    expect(sendSignal(pid, 'SIGCONT')).toBe(true)
  })

  it('with a parent, sends only to a child of that parent: a worker pid read from a log', () => {
    const [child, other] = [sleeper(), sleeper()]
    take(other.pid as number)
    const kill = vi.spyOn(process, 'kill')
    expect(sendSignal(child.pid as number, 'SIGCONT', other.pid)).toBe(false)
    expect(sendSignal(child.pid as number, 'SIGCONT', process.pid, reading({ ppid: 1 }))).toBe(false)
    expect(kill).not.toHaveBeenCalled()
    // Recorded as not this test's: no later signal without a parent reaches it until it is taken again.
    expect(sendSignal(child.pid as number, 'SIGCONT')).toBe(false)
    expect(kill).not.toHaveBeenCalled()
    expect(sendSignal(child.pid as number, 'SIGCONT', process.pid)).toBe(true)
    expect(sendSignal(child.pid as number, 'SIGCONT')).toBe(true)
  })

  it('a record an earlier file of this worker left (its process gone, the number reused) does not refuse this file\'s signal', () => {
    const child = sleeper()
    const pid = child.pid as number
    const file = expect.getState().testPath
    expect.setState({ testPath: `${file ?? ''}.earlier` })
    try {
      take(pid, undefined, reading({ start: '1' })) // the earlier file's process of that number
      expect(sendSignal(pid, 'SIGCONT')).toBe(false) // within that file: another process now
    } finally {
      expect.setState({ testPath: file })
    }
    expect(sendSignal(pid, 'SIGCONT')).toBe(true)
  })

  it('sends nothing to a pid taken when no process had it', () => {
    const pid = take(2 ** 22 + 1) // above any pid_max
    const kill = vi.spyOn(process, 'kill')
    expect(sendSignal(pid, 'SIGKILL', undefined, reading({}))).toBe(false)
    expect(kill).not.toHaveBeenCalled()
  })

  it('sends nothing to the group of an exited leader whose pid another process has now', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore', detached: true })
    sleepers.push(child)
    child.kill('SIGKILL')
    await exitedOf(child)
    const kill = vi.spyOn(process, 'kill')
    expect(signalGroup(child, 'SIGKILL', reading({}))).toBe(false)
    expect(signalGroup(child, 'SIGKILL')).toBe(false) // no member left
    expect(kill).not.toHaveBeenCalled()
  })

  it('refuses a process group number: those go through signalGroup', () => {
    expect(() => sendSignal(-process.pid, 'SIGCONT')).toThrow(/signalGroup/)
  })
})
