/**
 * A SIGHUP that reaches a `--workers` primary while its workers are still starting (a config
 * reloader sidecar, `kill -HUP` right after a rollout) is a reload once they serve (review
 * rev-U). Before, the primary installed its SIGHUP handler only once every worker listened, so
 * the signal's default action ended it: the instance never came up.
 *
 * Real processes: `serve --workers 2`, its workers held (SIGSTOP) before they listen.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { childPids, eventually } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { sendSignal } from '../support/signals.js'

// The test spawns the instance itself (it must catch the primary while it starts).
const w = useTwoWorkers({ spawn: 'none' })
let gp: GatewayProcess | undefined

afterAll(async () => {
  await gp?.stop('SIGKILL')
})

/** This test's own children running `config` (the primary; read from /proc, nothing else is signalled). */
function primaryOf(config: string): number | undefined {
  return childPids(process.pid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(config)
    } catch {
      return false
    }
  })
}

describe('a SIGHUP while the workers start', () => {
  it('does not end the primary: the instance comes up, then reloads', async () => {
    const config = join(w.pki.dir, 'start-signals.yaml')
    writeFileSync(config, w.yaml)
    const starting = spawnGateway(config, ['--workers', '2'])
    starting.catch(() => undefined)
    const primary = await eventually(() => primaryOf(config), 60_000, 'the primary to run')
    // Hold both workers before they listen, so the primary is still starting when the signal arrives.
    const workers = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers to be forked')
    for (const w of workers) sendSignal(w, 'SIGSTOP', primary)
    try {
      sendSignal(primary, 'SIGHUP')
    } finally {
      for (const w of workers) sendSignal(w, 'SIGCONT', primary)
    }
    gp = await starting
    expect(gp.child.pid).toBe(primary)
    await eventually(() => gp?.output.some((l) => l.includes('"trigger":"SIGHUP"') && l.includes('reload accepted by every worker')), 60_000, 'the SIGHUP reload')
  }, 120_000)
})
