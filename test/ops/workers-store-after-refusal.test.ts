/**
 * A `--workers` reload one worker could not build, which made the other open the store: the
 * instance keeps that store (README: a store a rolled-back worker opened stays open, and its
 * location is restart-only from then on), so the primary judges the next reload against it
 * (review rev-U).
 *
 * Before, the primary's baseline had no store after the failed reload: it relayed the next
 * config, which moved the store to another file; the worker that had opened none opened that
 * one, the other refused it (restart-only), the first could not go back and was drained and
 * replaced, and a replacement started with no store while its sibling held one: every later
 * reload to that file failed the same way, one worker replaced each time.
 *
 * Real processes: `serve --workers 2` (one worker at its descriptor limit, so it cannot open
 * the store), a real TLS upstream, SQLite.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import type { GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { childPids, eventually, lowestFreeFd, RELOAD_REFUSED, replaceFile, spawnTwoWorkers } from './helpers.js'

let pki: TestPki
let gp: GatewayProcess
let upstream: RunningServer
let config: string
let yaml: string

const entries = (from: number): Record<string, unknown>[] => gp.logEntries(from)
const CALLERS = `callers:\n  required: false\n  apps: [{ clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }]\n`

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  ;({ gp, config } = await spawnTwoWorkers(pki.dir, yaml))
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

describe('after a reload that only one worker built, opening the store', () => {
  it('the primary refuses moving the store (restart-only), and drains no worker', async () => {
    const primary = gp.child.pid as number
    const [refuser, opener] = childPids(primary) as [number, number]
    let from = gp.output.length
    const soft = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${refuser}/limits`, 'utf8'))?.[1] as string
    execFileSync('prlimit', ['--pid', String(refuser), `--nofile=${lowestFreeFd(refuser)}:`])
    try {
      // Caller apps need the store (at its default file): the refuser cannot open it, the opener does and goes back.
      replaceFile(config, CALLERS + yaml)
      await eventually(() => entries(from).some((e) => e.pid === primary && e.msg === RELOAD_REFUSED), 30_000, 'the instance to refuse the reload')
      await eventually(() => entries(from).filter((e) => e.pid === opener && e.msg === 'config reloaded').length === 2, 30_000, 'the opener to go back')
      // Every worker's line about it is out (each process writes its own, in batches) before the next reload.
      await eventually(() => entries(from).some((e) => e.pid === refuser && e.msg === RELOAD_REFUSED), 30_000, 'the refuser to log its refusal')
    } finally {
      execFileSync('prlimit', ['--pid', String(refuser), `--nofile=${soft}:`])
    }
    from = gp.output.length
    replaceFile(config, `store: { file: ${join(pki.dir, 'moved.db')} }\n${CALLERS}${yaml}`)
    const refusal = await eventually(() => entries(from).find((e) => e.pid === primary && (e.msg === RELOAD_REFUSED || e.msg === 'reload accepted by every worker')), 30_000, 'the second reload to end')
    // Judged by the primary, as a single process would judge it: not relayed, no worker refusing, none drained.
    expect(refusal).toMatchObject({ msg: RELOAD_REFUSED, problems: [expect.stringContaining('store.file: changed, and takes effect only after a restart')] })
    expect((refusal.problems as string[]).filter((p) => p.startsWith('worker '))).toEqual([])
    expect(entries(from).filter((e) => e.pid !== primary)).toEqual([])
  }, 120_000)
})
