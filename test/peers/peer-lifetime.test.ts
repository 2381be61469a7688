/**
 * A real peer (here redis-server) started through test/support/peers.ts dies with the test process
 * that started it, even when that process is killed outright and its exit hook never runs: a run
 * stopped mid-file must not leave servers behind for the rest of the machine's day.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { sendSignal } from '../support/signals.js'

const HARNESS = fileURLToPath(new URL('../support/peer-orphan-harness.mjs', import.meta.url))
let orphan: number | undefined

/** Whether `pid` is a live process (a zombie waiting for init to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

afterAll(() => {
  if (orphan !== undefined && alive(orphan)) sendSignal(orphan, 'SIGKILL')
})

it('a peer dies when the process that started it is killed with SIGKILL', async () => {
  const harness = spawn(process.execPath, [HARNESS], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  harness.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
  const line = await eventually(() => out.split('\n').find((l) => l.startsWith('{')), 60_000, 'the harness to start redis-server')
  const pid = (JSON.parse(line) as { pid: number }).pid
  orphan = pid
  expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/^redis-server/)
  expect(alive(pid)).toBe(true)
  harness.kill('SIGKILL')
  await eventually(() => !alive(pid) || undefined, 10_000, 'the orphaned redis-server to die')
})
