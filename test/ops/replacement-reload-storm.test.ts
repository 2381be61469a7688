/**
 * Reloads that keep coming faster than they settle (a SIGHUP loop, a config or secret file
 * rewritten every few seconds while reloads are slow) must not starve a replacement worker: the
 * primary hands it the config of the reload in progress as that reload settles, before a queued
 * one starts, and the queued one waits until the replacement serves and then reaches it too.
 *
 * Before, the primary handed a replacement its texts only once no reload ran or was queued: under
 * such a storm it never did, the replacement waited for ever (its start window paused while the
 * primary held its texts), and the instance ran a worker short.
 *
 * Fault injection, not timing: while a marker file exists a worker's TLS context takes 400 ms to
 * build (a sleep, no CPU), so each reload outlasts many of the test's SIGHUPs and one is always queued.
 */
import { unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { SLOW_BUILD } from '../support/slow-build.js'
import { childPids, eventually, replaceFile } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()
/** How long the storm goes on at most waiting for the replacement to serve: generous on a loaded 2-core machine. */
const STORM_MS = 90_000
/** SIGHUPs a round: each with a rewritten config, a few milliseconds apart (far faster than a slowed reload settles). */
const ROUND = 20

// No upstream listens on port 1: a configured endpoint answers 502 (dial refused), an unknown one 403.
const yaml = (names: string[]): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${names.map((n) => endpointYaml(n, 1, clientTls(use.pki))).join('')}`
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('serve --workers 2: a worker replaced during a storm of reloads', () => {
  it('serves during the storm, and every worker ends on the last config', async () => {
    const config = join(use.pki.dir, 'storm.yaml')
    replaceFile(config, yaml(['first']))
    const slow = join(use.pki.dir, 'slow-build')
    const gp = await use.spawn(config, ['--workers', '2'], { NODE_OPTIONS: `--require ${use.pki.write('slow-build.cjs', SLOW_BUILD)}`, SLOW_BUILD_FILE: slow })
    const primary = gp.child.pid as number
    const workers = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')
    const from = gp.output.length
    const primaryLine = (msg: string): Record<string, unknown> | undefined => gp.logEntries(from).find((e) => e.pid === primary && e.msg === msg)
    // A cheap look between rounds (parsing the whole log would stall the storm).
    const logged = (msg: string): boolean => gp.output.slice(from).some((l) => l.includes(msg))
    let generation = 0
    const round = async (): Promise<void> => {
      for (let k = 0; k < ROUND; k++) {
        replaceFile(config, yaml(['first', `gen${generation++}`]))
        sendSignal(primary, 'SIGHUP')
        await pause(5)
      }
    }
    // The storm is on before the worker dies, and goes on until its replacement serves (or the bound).
    writeFileSync(slow, '')
    await round()
    sendSignal(workers[0] as number, 'SIGKILL', primary)
    const end = Date.now() + STORM_MS
    while (!logged('replacement worker listening') && Date.now() < end) await round()
    unlinkSync(slow)
    const listening = primaryLine('replacement worker listening')
    // The replacement asked during a reload (the case under test), and served while reloads kept coming.
    expect(primaryLine('a starting worker waits for the reload in progress to get its config')).toBeDefined()
    expect(listening).toMatchObject({ msg: 'replacement worker listening' })
    const replacement = listening?.worker
    const last = `gen${generation - 1}`

    // The last config, told apart by its endpoint count (every storm config has two).
    replaceFile(config, yaml(['first', 'final-a', 'final-b']))
    sendSignal(primary, 'SIGHUP')
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload accepted by every worker' && e.endpoints === 3), 60_000, 'the last config to be accepted')
    await eventually(() => gp.logEntries(from).find((e) => e.pid === replacement && e.msg === 'config reloaded' && e.endpoints === 3), 30_000, 'the replacement to log the last config')
    // Each call on its own connection: the primary hands connections to the workers in turn.
    const statuses = async (path: string): Promise<number[]> => {
      const out = []
      for (let i = 0; i < 8; i++) out.push((await send(gp.url, `${path}${i}`)).status)
      return out
    }
    expect(await statuses('/proxy/final-b/')).toEqual(Array(8).fill(502))
    expect(await statuses(`/proxy/${last}/`)).toEqual(Array(8).fill(403))
  }, 240_000)
})

describe('serve --workers 2: a replacement whose start outlasts --reload-timeout while reloads keep coming', () => {
  it('is killed by a reload and replaced after the crash backoff, not at once (no fork-and-kill loop), and one serves once they stop', async () => {
    const config = join(use.pki.dir, 'outlasted.yaml')
    replaceFile(config, yaml(['first']))
    const slow = join(use.pki.dir, 'slow-start')
    // A starting worker's TLS contexts take 10 s each (ten times the reload's 1 s wait for it); serving ones build at full speed and answer.
    const env = { NODE_OPTIONS: `--require ${use.pki.write('slow-build.cjs', SLOW_BUILD)}`, SLOW_BUILD_FILE: slow, SLOW_BUILD_MS: '10000', SLOW_BUILD_STARTING: '1' }
    const gp = await use.spawn(config, ['--workers', '2', '--reload-timeout', '1s'], env)
    const primary = gp.child.pid as number
    const workers = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')
    const from = gp.output.length
    // A kill and its exit are one line, written at the exit with when the replacement starts.
    const outlasted = (): Record<string, unknown>[] => gp.logEntries(from).filter((e) => e.pid === primary && e.msg === 'worker still starting when a reload came: killing and replacing it' && e.reason === 'start_outlasted_reload' && e.restartInMs !== undefined)
    writeFileSync(slow, '')
    sendSignal(workers[0] as number, 'SIGKILL', primary)
    // Each reload kills the replacement still building when it came; the next replacement meets the next reload.
    const end = Date.now() + STORM_MS
    while (outlasted().length < 3 && Date.now() < end) {
      sendSignal(primary, 'SIGHUP')
      await pause(200)
    }
    unlinkSync(slow)
    const delays = outlasted().map((e) => e.restartInMs)
    expect(delays.length).toBeGreaterThanOrEqual(3)
    // The crash backoff's bounds (crash-backoff.test.ts pins its steps).
    for (const delay of delays) expect(delay).toSatisfy((d: unknown) => typeof d === 'number' && d >= 100 && d <= 5000)
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'replacement worker listening'), 90_000, 'a replacement to serve once the reloads stop')
  }, 240_000)
})
