/**
 * A `--workers` drain uses the grace in force when it starts: the accepted config's. A reload
 * still pending (relayed, built by one worker, not yet answered by another) is not in force,
 * though the worker that built it already runs its snapshot. Before, the primary timed its kill
 * on the accepted grace (3 s here, + 5 s margin) while that worker drained with the pending
 * reload's (60 s): it was SIGKILLed mid-wait instead of ending its own drain at 3 s.
 * Now the primary tells each serving worker the instance's grace with the drain (IPC).
 *
 * Real processes: `serve --workers 2`, a real TLS upstream that holds /slow requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { exitedOf, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { childPids, eventually, replaceFile, spawnTwoWorkers } from './helpers.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let gp: GatewayProcess
let upstream: RunningServer
let config: string
let yaml: string
const held: (() => void)[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void => void (req.url?.includes('slow') ? held.push(() => echo(req, res)) : echo(req, res))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 3s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  ;({ gp, config } = await spawnTwoWorkers(pki.dir, yaml))
}, 120_000)

afterAll(async () => {
  held.splice(0).forEach((go) => go())
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

describe('a drain while a reload that raises drain.grace is pending', () => {
  it('drains every worker with the accepted grace', async () => {
    const primary = gp.child.pid as number
    const [builder, sleeper] = childPids(primary) as [number, number]
    const from = gp.output.length
    // Cut by the drain's end: settled (not rejected unhandled) as they end.
    const slow = [1, 2].map((i) => send(gp.url, `/proxy/partner/slow-${i}`).then((r) => r.status, (e: Error) => e.message))
    await eventually(() => held.length === 2, 30_000, 'the upstream to hold 2 requests')
    sendSignal(sleeper, 'SIGSTOP', primary)
    const exit = exitedOf(gp.child)
    try {
      replaceFile(config, yaml.replace('3s', '60s'))
      await eventually(() => gp.logEntries(from).some((e) => e.pid === builder && e.msg === 'config reloaded'), 30_000, 'the builder to build the pending reload')
      gp.child.kill('SIGTERM')
      await eventually(() => gp.logEntries(from).some((e) => e.pid === primary && e.msg === 'draining every worker'), 30_000, 'the drain to begin')
    } finally {
      sendSignal(sleeper, 'SIGCONT', primary)
    }
    const graces = (pid: number): unknown[] => gp.logEntries(from).filter((e) => e.pid === pid && (e.msg === 'draining: no new connections, waiting for in-flight requests' || e.msg === 'drain grace set by the primary')).map((e) => e.graceMs)
    await eventually(() => graces(builder).length > 0 && graces(sleeper).length > 0, 30_000, 'both workers to drain')
    // Each worker ends its own drain at the end of the accepted grace, requests cut: none is killed by the primary.
    expect(await exit).toBe(1)
    // Read once every line is out (a worker's later grace line could still be in its batch before).
    expect(graces(builder)).toEqual([3000])
    expect(graces(sleeper).at(-1)).toBe(3000)
    await eventually(() => gp.logEntries(from).filter((e) => e.msg === 'grace period over: exiting with requests in flight').length === 2, 10_000, 'both workers to end their drain')
    // Each ended by its worker's drain, answered 503 (drain_ended), not hung up on.
    expect(await Promise.all(slow)).toEqual([503, 503])
  }, 120_000)
})
