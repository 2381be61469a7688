/**
 * Durations the gateway times, at their maximum and past it, in the real process (`serve`, and
 * `serve --workers 2`). At `596h` every timer waits (a call to an upstream that takes its time is
 * answered 200, the drain exits 0, Node prints no TimeoutOverflowWarning). A reload past the maximum
 * (`endpoints[].timeouts.connect: 720h`, which armed a timer Node fired after 1 ms: every new upstream
 * connection a 504) is refused naming the key, the value and the maximum, and the last good config
 * keeps serving: the endpoint added in the same edit stays unknown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { flushedBy } from '../support/log-entries.js'
import { childPids, refusedReloadProblems, replaceFile } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'

const MAX = '596h'
const CLIENT_TIMEOUTS = `headers: ${MAX}, bodyIdle: ${MAX}, bufferedBody: ${MAX}, keepAlive: ${MAX}, tlsHandshake: ${MAX}`
const ENDPOINT_TIMEOUTS = `    timeouts: { connect: ${MAX}, response: ${MAX}, idle: ${MAX}, keepAlive: ${MAX} }\n`
const OPERATIONS = `drain: { grace: ${MAX} }\nlogging: { callerFaults: { interval: ${MAX} } }\n`

// The backend answers after a pause: a timer Node fired at once would have ended the call first.
const handler = (req: IncomingMessage, res: ServerResponse): void => void setTimeout(() => echo(req, res), 300)

/** The config past the connect maximum, with an endpoint `added` that a refused reload must not bring. */
const pastMaximum = (yaml: string, port: number, pki: TestPki): string =>
  yaml.replace(`connect: ${MAX}`, 'connect: 720h') + endpointYaml('added', port, clientTls(pki))

async function expectRefusedAndKept(gp: GatewayProcess, config: string, from: number): Promise<void> {
  expect(await refusedReloadProblems(gp, from)).toEqual([
    expect.stringMatching(new RegExp(`^${config}:\\d+:\\d+: endpoints\\[0\\]\\.timeouts\\.connect: 720h is longer than the maximum, 596h: the gateway waits on a timer for it, and a timer holds at most 2147483647 ms \\(about 24\\.8 days\\)$`)),
  ])
  for (let i = 0; i < 4; i++) expect((await send(gp.url, `/proxy/partner/kept-${i}`)).status).toBe(200)
  expect((await send(gp.url, '/proxy/added/x')).status).not.toBe(200)
}

const overflowed = (gp: GatewayProcess): string[] => gp.output.filter((l) => l.includes('TimeoutOverflowWarning'))

describe('serve', () => {
  let pki: TestPki
  let upstream: RunningServer
  let gp: GatewayProcess
  let yaml: string
  beforeAll(async () => {
    pki = await createTestPki()
    upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
    yaml = `listen: { host: 127.0.0.1, port: 0, timeouts: { ${CLIENT_TIMEOUTS}, sendIdle: ${MAX}, tunnelIdle: ${MAX} } }\nadmin: { port: 0, timeouts: { ${CLIENT_TIMEOUTS} } }\n${OPERATIONS}endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), ENDPOINT_TIMEOUTS)}`
    replaceFile(join(pki.dir, 'gateway.yaml'), yaml)
    gp = await spawnGateway(join(pki.dir, 'gateway.yaml'))
  }, 120_000)
  afterAll(async () => {
    await gp?.stop('SIGKILL')
    await upstream?.close()
    pki?.cleanup()
  })

  it(`serves with every timer at ${MAX}, refuses a reload past it and keeps the last good config, then drains to exit 0`, async () => {
    const config = join(pki.dir, 'gateway.yaml')
    expect((await send(gp.url, '/proxy/partner/first')).status).toBe(200)
    const from = gp.output.length
    replaceFile(config, pastMaximum(yaml, upstream.port, pki))
    await expectRefusedAndKept(gp, config, from)
    expect(await gp.stop('SIGTERM')).toBe(0)
    // stop() waits for the output's end only so long: a warning is absent once all of it was read.
    await gp.ended
    expect(overflowed(gp)).toEqual([])
  }, 120_000)
})

describe('serve --workers 2', () => {
  const w = useTwoWorkers({ admin: `{ port: 0, timeouts: { ${CLIENT_TIMEOUTS} } }`, before: OPERATIONS, fields: ENDPOINT_TIMEOUTS, handler })

  it(`the primary refuses a reload past ${MAX}; the instance keeps serving the last good config`, async () => {
    const { gp, config, yaml } = w
    const from = gp.output.length
    replaceFile(config, pastMaximum(yaml, w.upstream.port, w.pki))
    await expectRefusedAndKept(gp, config, from)
    // The primary's verdict is the only one: no worker tried the refused config. Each worker writes
    // its lines in batches: read once a later line of each (a call's) is out.
    await flushedBy(gp, childPids(gp.child.pid as number), (tag) => send(gp.url, '/proxy/partner/flush', { headers: { 'x-request-id': tag } }))
    expect(gp.logEntries(from).filter((e) => e.msg === 'config reloaded')).toEqual([])
    expect(overflowed(gp)).toEqual([])
  }, 120_000)
})
