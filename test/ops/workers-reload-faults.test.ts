/**
 * A `--workers` instance's drain while a replacement is still starting (review rev-U).
 *
 * A drain while a replacement is starting (here it waits for the config texts while a reload is
 * pending) ends that replacement before it serves anything. Before, its exit counted as a worker
 * cut short and the primary exited 1 ("a worker exited before its requests finished").
 *
 * Real processes: `serve --workers 2`, a real TLS upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { exitedOf, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { childPids, eventually, replaceFile, spawnTwoWorkers } from './helpers.js'

let pki: TestPki
let gp: GatewayProcess
let upstream: RunningServer
let config: string
let yaml: string

const entries = (): Record<string, unknown>[] => gp.output.filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as Record<string, unknown>)
const said = (pid: number, msgs: string[], from: number): Record<string, unknown> | undefined => entries().slice(from).find((e) => e.pid === pid && msgs.includes(e.msg as string))

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

describe('a drain while a replacement is still starting', () => {
  it('ends the replacement and exits 0: it served nothing, so nothing was cut', async () => {
    const primary = gp.child.pid as number
    const [crasher, sleeper] = childPids(primary) as [number, number]
    const from = entries().length
    const exit = exitedOf(gp.child)
    process.kill(sleeper, 'SIGSTOP')
    try {
      // A reload the sleeper cannot answer yet: a replacement gets its texts only once it is over.
      replaceFile(config, `drain: { grace: 20s }\n${yaml}`)
      await eventually(() => said(crasher, ['config reloaded'], from), 30_000, 'the awake worker to reload')
      process.kill(crasher, 'SIGKILL')
      await eventually(() => childPids(primary).some((p) => p !== crasher && p !== sleeper), 30_000, 'the replacement to be forked')
      gp.child.kill('SIGTERM')
      await eventually(() => said(primary, ['draining every worker'], from), 30_000, 'the drain to begin')
    } finally {
      process.kill(sleeper, 'SIGCONT')
    }
    expect(await exit).toBe(0)
    expect(entries().slice(from).filter((e) => e.msg === 'a worker exited before its requests finished: exiting with code 1')).toEqual([])
  }, 120_000)
})
