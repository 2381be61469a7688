/**
 * logging.callerFaults changed by a hot reload applies to the next line, as after a fresh start
 * with that value: a larger burst lets more lines of the same window through, `interval: 0`
 * lifts the cap, and the summary still says exactly how many lines were held back before.
 * One process (`--workers 1`), so the counts are exact, and `--workers 2` (each worker has its
 * own budget, and the primary relays the reload); real requests that end in 404 not_found (a path
 * outside /proxy/ and /gateway/, no caller: capped), a real reload by SIGHUP. Each reload of a
 * process also adds a spare endpoint (never called): the `endpoints` of a `config reloaded` line
 * say which file it read, as one write can make two reloads (SIGHUP and the directory watcher).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { exitedOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually } from './helpers.js'

let dir: string
let config: string
let gp: GatewayProcess | undefined
let pki: TestPki
/** The reloads of the running process: its config has as many spare endpoints. */
let reloads = 0

const spare = (i: number): string => `  - { name: spare${i}, url: "https://spare${i}.test", tls: ${clientTlsYaml(pki)} }\n`
const yaml = (callerFaults: string, spares = 0): string => `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
logging: { callerFaults: ${callerFaults} }
endpoints:${spares === 0 ? ' []\n' : `\n${Array.from({ length: spares }, (_, i) => spare(i + 1)).join('')}`}`

/** `n` requests no route serves, one after another: each is a not_found line the cap may hold back. */
async function strays(n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await send(gp!.url, `/stray/${i}`)).status).toBe(404)
}
const strayLines = (from: number): Record<string, unknown>[] => gp!.logEntries(from).filter((e) => e.msg === 'request' && e.status === 404)

/** Reloads to `callerFaults` (one more spare endpoint) and waits until each of `processes` says it reloaded that file. */
async function reloadTo(callerFaults: string, processes = 1): Promise<void> {
  const from = gp!.output.length
  const endpoints = ++reloads
  writeFileSync(config, yaml(callerFaults, endpoints))
  gp!.child.kill('SIGHUP')
  await eventually(() => new Set(gp!.logEntries(from).filter((e) => e.msg === 'config reloaded' && e.endpoints === endpoints).map((e) => e.pid)).size === processes, 30_000, 'the reload')
}

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'caller-fault-reload-'))
  config = join(dir, 'gateway.yaml')
  // A long interval: every request of the test falls in one window, whatever the machine's load.
  writeFileSync(config, yaml('{ burst: 2, interval: 1h }'))
  gp = await spawnGateway(config, ['--workers', '1'])
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

describe('logging.callerFaults across a hot reload', () => {
  it('a larger burst lets more lines through at once, interval 0 lifts the cap, and the held-back lines are summed exactly at exit', async () => {
    await strays(5)
    // A later line that is never capped (the reload's) proves the first five requests' lines are all out.
    await reloadTo('{ burst: 6, interval: 1h }')
    expect(strayLines(0)).toHaveLength(2)

    const afterFirst = gp!.output.length
    await strays(6)
    await reloadTo('{ burst: 6, interval: 0 }')
    // The same window: 2 lines were taken before, 4 more now under the new burst of 6.
    expect(strayLines(afterFirst)).toHaveLength(4)

    const afterSecond = gp!.output.length
    await strays(7)
    await reloadTo('{ burst: 1, interval: 1h }')
    expect(strayLines(afterSecond)).toHaveLength(7)

    const exit = exitedOf(gp!.child)
    gp!.child.kill('SIGTERM')
    expect(await exit).toBe(0)
    await gp!.stop()
    const summaries = gp!.logEntries().filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed '))
    expect(summaries.map((s) => s.suppressed)).toEqual([3 + 2])
    expect(summaries[0]).toMatchObject({ level: 'warn', listener: 'proxy', reason: 'not_found' })
    expect(strayLines(0)).toHaveLength(5 + 6 + 7 - 5)
  }, 120_000)
})

describe('logging.callerFaults across a hot reload, --workers 2', () => {
  it('each worker caps at the burst before the reload and not at all after one to interval 0', async () => {
    await gp?.stop('SIGKILL')
    writeFileSync(config, yaml('{ burst: 1, interval: 1h }'))
    gp = await spawnGateway(config, ['--workers', '2'])
    reloads = 0
    await strays(10)
    await reloadTo('{ burst: 1, interval: 0 }', 2)
    const before = strayLines(0)
    expect(before.length).toBeGreaterThan(0)
    for (const pid of new Set(before.map((l) => l.pid))) expect(before.filter((l) => l.pid === pid)).toHaveLength(1)

    const after = gp.output.length
    await strays(6)
    await reloadTo('{ burst: 1, interval: 1h }', 2)
    expect(strayLines(after)).toHaveLength(6)
  }, 120_000)
})
