/**
 * Node's process warnings become the gateway's own JSON log lines (src/ops/process-warnings.ts):
 * a one-process gateway and a `--workers 2` primary and worker each emit one on a signal (a
 * preload script, as a library would), and the line is JSON at warn level, its secret values
 * redacted like every other line's, and Node's plain-text `(node:PID) …` print never appears.
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually } from '../support/eventually.js'
import { childPids } from './helpers.js'
import { sendSignal, take } from '../support/signals.js'

const SECRET = 'warning-field-secret-4f1c9a'
// On SIGWINCH (unused by the gateway; ignored by default) the process emits a warning naming the secret, as a careless library might.
const PRELOAD = `process.on('SIGWINCH', () => process.emitWarning('a library said: token ${SECRET} at pid ' + process.pid, { type: 'DemoLibraryWarning', code: 'DEMO_CODE' }))\n`

let pki: TestPki
let config: string
let preload: string
const running: GatewayProcess[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const fields = `    fields:\n      - { type: header, key: X-Api-Key, value: "${SECRET}" }\n`
  config = join(pki.dir, 'warnings.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki), fields)}`)
  preload = pki.write('warn-on-sigwinch.cjs', PRELOAD)
})
afterAll(async () => {
  await Promise.all(running.map((gp) => gp.stop()))
  pki?.cleanup()
})

/** The warning lines of `pid` so far. */
const warningsOf = (gp: GatewayProcess, pid: number): Record<string, unknown>[] => gp.logEntries().filter((e) => e.warning === 'DemoLibraryWarning' && e.pid === pid)

/** Output lines that hold the secret or are Node's own plain-text warning print. */
const plainOrSecret = (gp: GatewayProcess): string[] => gp.output.filter((l) => l.includes(SECRET) || l.startsWith('(node:') || l.includes('--trace-warnings'))

async function expectLoggedWarning(gp: GatewayProcess, pid: number): Promise<void> {
  sendSignal(pid, 'SIGWINCH')
  const line = await eventually(() => warningsOf(gp, pid)[0], undefined, `the warning line of ${pid}`)
  expect(warningsOf(gp, pid)).toHaveLength(1)
  expect(line).toMatchObject({ level: 'warn', code: 'DEMO_CODE', warning: 'DemoLibraryWarning' })
  expect(line?.msg).toBe(`runtime warning: a library said: token [REDACTED] at pid ${pid}`)
}

describe('process warnings', () => {
  it('one process: a warn line of its own, the secret redacted, no plain-text print', async () => {
    const gp = await spawnGateway(config, ['--workers', '1'], { NODE_OPTIONS: `--require ${preload}` })
    running.push(gp)
    await expectLoggedWarning(gp, gp.child.pid as number)
    expect(plainOrSecret(gp)).toEqual([])
  })

  it('--workers 2: the primary and each worker log theirs alike', async () => {
    const gp = await spawnGateway(config, ['--workers', '2'], { NODE_OPTIONS: `--require ${preload}` })
    running.push(gp)
    const primary = gp.child.pid as number
    const workers = childPids(primary).map((pid) => take(pid, primary))
    expect(workers).toHaveLength(2)
    for (const pid of [primary, ...workers]) await expectLoggedWarning(gp, pid)
    expect(plainOrSecret(gp)).toEqual([])
  })
})
