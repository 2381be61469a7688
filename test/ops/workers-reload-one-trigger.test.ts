/**
 * `--workers`: a config written and a SIGHUP sent after it are one reload, even when the relayed
 * reload outlasts the file watch's debounce (300 ms; a worker slow to build it, as on a loaded
 * machine). Before, the watch compared the files against the config in force while the SIGHUP's
 * reload was still waiting for the workers, saw a change, and queued a second reload of the same
 * bytes: every worker built it twice, two lines each (and two reloads counted).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki } from '../support/pki.js'
import { spawnGateway } from '../support/process.js'
import { childPids, eventually } from './helpers.js'
import { sendSignal } from '../support/signals.js'

it('a write and a SIGHUP while a worker is slow to build the reload: one reload, each worker one line', async () => {
  const pki = await createTestPki()
  const config = join(pki.dir, 'gateway.yaml')
  const yaml = (connect: string): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki), `    timeouts: { connect: ${connect} }\n`)}`
  writeFileSync(config, yaml('10s'))
  const gp = await spawnGateway(config, ['--workers', '2'])
  const primary = gp.child.pid as number
  const reloaded = (from: number): Record<string, unknown>[] => gp.logEntries(from).filter((e) => e.msg === 'config reloaded')
  const workers = childPids(primary)
  const slow = workers[0] as number
  try {
    expect(workers).toHaveLength(2)
    const from = gp.output.length
    // The primary stopped while the file changes and the signal arrives: it sees both at once
    // (however slow this process is between the two), and its watch's debounce starts then.
    sendSignal(slow, 'SIGSTOP', primary)
    sendSignal(primary, 'SIGSTOP')
    writeFileSync(config, yaml('11s'))
    sendSignal(primary, 'SIGHUP')
    sendSignal(primary, 'SIGCONT')
    // The slow worker answers the relayed reload well after the debounce ended.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    sendSignal(slow, 'SIGCONT', primary)
    await eventually(() => new Set(reloaded(from).map((e) => e.pid)).size === 2, 60_000, 'both workers to reload')
    // A later SIGHUP as a barrier: a reload queued behind the first would run before it.
    const barrier = gp.output.length
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(reloaded(barrier).map((e) => e.pid)).size === 2, 60_000, 'both workers to reload again')
    expect(reloaded(from).map((e) => e.trigger)).toEqual(['SIGHUP', 'SIGHUP', 'SIGHUP', 'SIGHUP'])
  } finally {
    for (const pid of [primary, slow]) sendSignal(pid, 'SIGCONT')
    await gp.stop('SIGKILL')
    pki.cleanup()
  }
}, 120_000)
