/**
 * Signals sent by pid number only to a process this test still holds. A pid number outlives its
 * process: once that exits (and is reaped) the number is free, and with thousands of processes a
 * run (pid_max 32768) another test's process may get it; a late SIGCONT or SIGKILL to a number a
 * test kept then lands on that one (CI once saw a SIGSTOPped peer resumed by no test of its own).
 * So a pid is taken when the test learns it, its start time (/proc/<pid>/stat field 22) recorded,
 * and a signal goes only while that pid is still the process that started then and has not
 * exited. A ChildProcess needs no record: Node sets exitCode/signalCode in the same turn it reaps
 * the child, so before that its pid cannot have been reused.
 */
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { expect } from 'vitest'

/** The /proc/<pid>/stat fields this reads; undefined once no process has that pid. */
export interface ProcStat {
  readonly state: string
  readonly ppid: number
  readonly pgrp: number
  /** Clock ticks after boot, field 22: with the pid, names one process for the host's uptime. */
  readonly start: string
}

export type StatReader = (pid: number) => ProcStat | undefined

export const procStat: StatReader = (pid) => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // comm (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: f[0] ?? '?', ppid: Number(f[1]), pgrp: Number(f[2]), start: f[19] ?? '' }
}

/**
 * Start times of the pids taken, GONE for one that was not running when taken, each with the test
 * file that took it. A vitest worker runs many files in one process (isolate: false): a record left
 * by an earlier file (its process gone, the number since given to a process of this file's) counts
 * as no record, or this file's own signal would be refused.
 */
const taken = new Map<number, { start: string; file: string }>()
const GONE = ''
/** The test file running in this worker now; '' outside vitest (a harness process importing peers.ts), where vitest's state throws. */
const testFile = (): string => {
  try {
    return expect.getState().testPath ?? ''
  } catch {
    return ''
  }
}
const recordOf = (pid: number): string | undefined => {
  const record = taken.get(pid)
  return record !== undefined && record.file === testFile() ? record.start : undefined
}

/**
 * Records `pid` as this test's, with its start time now, and returns it. With `parent` (a gateway
 * worker's primary) it must be that one's child: a number read from a log may name another process
 * by now. A pid that is not (or no longer) that process is recorded as gone: no signal reaches it
 * until taken again. A pid signalled without being taken is taken by its first signal: later ones
 * without `parent` (a SIGCONT after a SIGSTOP, a cleanup's SIGKILL once the primary is gone) reach
 * it only while it is still that process.
 */
export function take(pid: number, parent?: number, read: StatReader = procStat): number {
  const stat = read(pid)
  const ours = stat !== undefined && stat.state !== 'Z' && (parent === undefined || stat.ppid === parent)
  taken.set(pid, { start: ours ? stat.start : GONE, file: testFile() })
  return pid
}

/** A child's pid, taken (-1 when it has none: it failed to spawn). */
export const takeChild = (child: ChildProcess): number => (child.pid === undefined ? -1 : take(child.pid))

/**
 * Whether `pid` is still the process taken (taken now if it was not yet) and has not exited. With
 * `parent` (itself this process or a pid held) being its child now is the proof, the start time
 * recorded anew: a worker pid read from a log names that primary's worker or nothing.
 */
export function holds(pid: number, parent?: number, read: StatReader = procStat): boolean {
  if (parent !== undefined) {
    if (parent !== process.pid && !holds(parent, undefined, read)) return false
    take(pid, parent, read)
  } else if (recordOf(pid) === undefined) take(pid, undefined, read)
  const start = recordOf(pid)
  const stat = start === GONE || start === undefined ? undefined : read(pid)
  return stat !== undefined && stat.state !== 'Z' && stat.start === start
}

const running = (child: ChildProcess): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null

/**
 * Sends `sig` to a child not yet exited, or to a pid still the process taken (or, with `parent`,
 * still that process's child); otherwise sends nothing (a cleanup's SIGCONT or SIGKILL to a
 * process gone meanwhile) and returns false.
 */
export function sendSignal(target: ChildProcess | number, sig: NodeJS.Signals, parent?: number, read: StatReader = procStat): boolean {
  if (typeof target === 'number' && target <= 0) throw new Error(`sendSignal(${target}): a process group goes through signalGroup`)
  const pid = typeof target === 'number' ? target : target.pid
  if (pid === undefined || (typeof target === 'number' ? !holds(target, parent, read) : !running(target))) return false
  process.kill(pid, sig)
  return true
}

/**
 * Sends `sig` to the process group a child (spawned detached), or a taken pid, leads. While the
 * leader runs the group is its. After a child leader exited its group id stays out of reuse as
 * long as a member is left, so the signal goes when one is and no other process has the pid now.
 */
export function signalGroup(leader: ChildProcess | number, sig: NodeJS.Signals, read: StatReader = procStat): boolean {
  const pgid = typeof leader === 'number' ? leader : leader.pid
  if (pgid === undefined || pgid <= 0) return false
  if (typeof leader === 'number' ? !holds(leader, undefined, read) : !running(leader)) {
    if (typeof leader === 'number' || read(pgid) !== undefined) return false
    const members = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).some((n) => read(Number(n))?.pgrp === pgid)
    if (!members) return false
  }
  try {
    process.kill(-pgid, sig)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e // the last member left meanwhile, or the leader is in no group of its own
    return false
  }
  return true
}
