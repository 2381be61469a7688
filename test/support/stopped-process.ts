/**
 * Runs something while a process is stopped (SIGSTOP), then continues it (SIGCONT): what was sent
 * to it meanwhile (signals, bytes on a connection it already accepted) is handled in one turn of
 * its event loop on waking, in the order it arrived. Meetings by construction, not by timing.
 */
import { readFileSync } from 'node:fs'
import { eventually } from './eventually.js'
import { sendSignal } from './signals.js'

/** The process state letter from /proc (T: stopped). */
export const stateOf = (pid: number): string => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?'

/** Stops `pid`, runs `during`, and continues it (also when `during` throws). */
export async function whileStopped(pid: number, during: () => void | Promise<void>): Promise<void> {
  sendSignal(pid, 'SIGSTOP')
  try {
    await eventually(() => stateOf(pid) === 'T', 10_000, 'the process to stop')
    await during()
  } finally {
    sendSignal(pid, 'SIGCONT')
  }
}
