/**
 * The dial to an `interception.passThrough` destination is bounded: a destination that never
 * answers (its accept queue full, so the kernel drops our SYNs as a black hole would) gets the
 * caller a 504 in the error envelope on its CONNECT, before any 200, after `connectTimeout`,
 * and the dial is given up (no SYN_SENT socket left). It is reported as a refused dial is
 * (ECONNREFUSED: 502): one access line, one requests_total sample, one refused tunnel. A caller
 * that leaves during the dial stops it at once (499 line), bytes it sends before the 200 are
 * relayed, and its connection slot is freed. `0` turns the limit off. The limit is read from the
 * current snapshot (a reload changes it), and the same holds with `--workers 2`.
 */
import { execFile } from 'node:child_process'
import { connect as tcpConnect, type Socket } from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { startSilentListener, type SilentListener } from '../support/c-silent-listener.js'
import { refusingPort } from '../support/peers.js'
import { accessLineWhere, eventually, scrape, startOpsGateway, valueOf } from '../ops/helpers.js'
import { BOT_APP, callerBearer as bearer, useInterceptionGateway } from '../ops/interception-gateway.js'

let silent: SilentListener
/** A second silent destination, its limit off (`0`): only the caller leaving ends the dial. */
let silentLong: SilentListener
let closedPort: number

const echoPort = (): number => h.echoPort()
/** A config whose store lives in `dir` (a reload keeps the store), the silent destination's limit `timeout`. */
const yaml = (dir: string, timeout = '1s', connections = ''): string =>
  `listen: { host: 127.0.0.1, port: 0${connections} }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(dir, 'store.db')} }\n` +
  `callers:\n  apps:\n${BOT_APP}` +
  `interception:\n  caCert: ${h.ca.caCert}\n  caKey: ${h.ca.caKey}\n  passThrough:\n` +
  `    - { host: 127.0.0.1, port: ${silent.port}, allowPrivate: true, connectTimeout: ${timeout} }\n` +
  `    - { host: 127.0.0.1, port: ${silentLong.port}, allowPrivate: true, connectTimeout: 0 }\n` +
  `    - { host: 127.0.0.1, port: ${closedPort}, allowPrivate: true }\n` +
  `    - { host: 127.0.0.1, port: ${echoPort()}, allowPrivate: true }\n` +
  `endpoints:\n${endpointYaml('partner', h.upstream.port, clientTls(h.pki))}`

interface Answer { status: number; body: string }

/** Sends a CONNECT to 127.0.0.1:`port` and reads the answer until the gateway closes the connection. */
function connectTo(gatewayPort: number, port: number, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(gatewayPort, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`))
    let got = ''
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    s.once('error', reject)
    s.once('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1] ?? 0), body: got.split('\r\n\r\n')[1] ?? '' }))
  })
}

const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n'
const timeoutMsg = (seconds: number): string => `pass-through 127.0.0.1:${silent.port}: connect timeout: no answer within ${seconds} s (interception.passThrough[].connectTimeout)`

const h = useInterceptionGateway({
  yaml,
  prepare: async () => {
    // A port nothing listens on: a dial to it is refused (ECONNREFUSED) at once.
    closedPort = await refusingPort()
    silent = await startSilentListener()
    silentLong = await startSilentListener()
  },
  teardown: async () => {
    await silent?.close()
    await silentLong?.close()
  },
})

const connectLines = (): Record<string, unknown>[] => h.g.access().filter((e) => e.method === 'CONNECT')

describe('a pass-through destination that never answers', () => {
  it('gets the caller a 504 in the error envelope, one access line and the samples a refused dial (502) gets; the dial is given up', async () => {
    const { g } = h
    const token = await bearer()
    const before = connectLines().length
    const refused = await connectTo(g.gw.port, closedPort, token)
    expect(refused.status).toBe(502)
    expect(JSON.parse(refused.body)).toEqual({ errors: [{ msg: `pass-through 127.0.0.1:${closedPort}: connection refused (ECONNREFUSED)`, code: 502 }] })
    const timedOut = await connectTo(g.gw.port, silent.port, token)
    expect(timedOut.status).toBe(504)
    expect(JSON.parse(timedOut.body)).toEqual({ errors: [{ msg: timeoutMsg(1), code: 504 }] })
    // No socket of this process still sends SYNs to it.
    await eventually(() => silent.dialling() === 0, 10_000, 'the dial to be given up')
    await eventually(() => connectLines().length === before + 2, 10_000, 'the two access lines')
    // Each by its status, not its place: a line is written once its CONNECT finished on the gateway's side.
    const r = connectLines().slice(before).find((e) => e.status === 502)
    const t = connectLines().slice(before).find((e) => e.status === 504)
    expect(r).toMatchObject({ level: 'warn', mode: 'connect', method: 'CONNECT', status: 502, reason: 'upstream_connect_refused', caller: 'bot' })
    expect(t).toMatchObject({ level: 'warn', mode: 'connect', method: 'CONNECT', status: 504, reason: 'upstream_timeout', error: timeoutMsg(1), caller: 'bot' })
    // Same shape as the refused dial: neither names a tunnel destination (none was opened) nor an endpoint.
    for (const line of [r, t]) {
      expect(line).not.toHaveProperty('passThrough')
      expect(line).not.toHaveProperty('endpoint')
      expect(JSON.stringify(line)).not.toContain(token)
    }
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '5xx' })).toBe(2)
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'refused' })).toBe(2)
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'pass_through' }) ?? 0).toBe(0)
  })

  it('the real curl sees the 504 on its CONNECT', async () => {
    const { g } = h
    const timedOutBefore = connectLines().filter((e) => e.status === 504).length
    const r = await promisify(execFile)('curl', ['-sS', '-x', g.gw.url, '--proxy-header', `Proxy-Authorization: Bearer ${await bearer()}`, '-o', '/dev/null', '-w', '%{http_connect}', `https://127.0.0.1:${silent.port}/`], { timeout: 60_000 })
      .catch((e: { stdout: string; code: number }) => e)
    expect(r.stdout).toBe('504')
    // Its line is written once the gateway saw the connection close, which can be after curl exited: waited for
    // here, so that it is never taken for a later test's.
    await eventually(() => connectLines().filter((e) => e.status === 504).length === timedOutBefore + 1, 10_000, 'the curl CONNECT\'s access line')
  })

  it('connectTimeout 0 is off, and a caller that leaves during the dial stops it: a 499 line, the dial given up', async () => {
    const { g } = h
    const token = await bearer()
    const before = connectLines().length
    const s: Socket = tcpConnect(g.gw.port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${silentLong.port} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`))
    s.on('error', () => undefined)
    let got = ''
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    const closed = new Promise((r) => s.once('close', r))
    await eventually(() => silentLong.dialling() === 1, 15_000, 'the gateway to dial')
    // A FIN (still able to read): the gateway closes without an answer, 499 being only logged.
    s.end()
    await closed
    expect(got).toBe('')
    const line = await accessLineWhere({ access: connectLines }, (e) => e.status === 499, 'the CONNECT\'s access line', { from: before })
    expect(line).toMatchObject({ status: 499, reason: 'caller_aborted', caller: 'bot' })
    expect(connectLines()).toHaveLength(before + 1)
    await eventually(() => silentLong.dialling() === 0, 15_000, 'the dial to be given up')
  })

  it('bytes a caller sends before the 200 (while the gateway dials) reach the destination, whatever they are (seeded property)', async () => {
    const { g } = h
    const token = await bearer()
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 3000 })
    await fc.assert(
      fc.asyncProperty(fc.array(bytes, { minLength: 1, maxLength: 3 }), async (chunks) => {
        const early = Buffer.concat(chunks)
        const s = tcpConnect(g.gw.port, '127.0.0.1')
        await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject))
        let got = Buffer.alloc(0)
        const want = ANSWER.length + early.length
        const back = new Promise<void>((resolve, reject) => {
          s.on('data', (c: Buffer) => void ((got = Buffer.concat([got, c])).length >= want && resolve()))
          s.once('error', reject)
        })
        s.write(`CONNECT 127.0.0.1:${echoPort()} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`)
        // Separate writes, without waiting for the answer: they arrive while the gateway authenticates and dials.
        for (const c of chunks) await new Promise<void>((r) => setImmediate(() => s.write(c, () => r())))
        await back
        s.destroy()
        expect(got.subarray(0, ANSWER.length).toString('latin1')).toBe(ANSWER)
        expect(Buffer.compare(got.subarray(ANSWER.length), early)).toBe(0)
      }),
      { seed: 1931, numRuns: 500 },
    )
  }, 300_000)

  it('frees the connection slot: with listen.connections.max 2, two timed-out CONNECTs, then a tunnel is served', async () => {
    const dir = join(h.pki.dir, 'capped')
    mkdirSync(dir)
    const capped = await startOpsGateway(dir, yaml(dir, '1s', ', connections: { max: 2 }'), { watch: false })
    h.stopAfter(() => capped.gw.close())
    const token = await bearer()
    const answers = await Promise.all([connectTo(capped.gw.port, silent.port, token), connectTo(capped.gw.port, silent.port, token)])
    expect(answers.map((a) => a.status)).toEqual([504, 504])
    // Each answered CONNECT holds its slot until the gateway has read the caller's close too (the caller's side closed
    // first, so the next connection could race it): the slots must come free, then a tunnel is served.
    const open = (): Promise<number> => new Promise((resolve) => capped.gw.server.getConnections((_err, n) => resolve(n)))
    await eventually(async () => (await open()) === 0, 15_000, 'the two answered CONNECTs to give back their slots')
    const s = tcpConnect(capped.gw.port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${echoPort()} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`))
    const head = await new Promise<string>((resolve, reject) => s.once('data', (c: Buffer) => resolve(c.toString())).once('error', reject))
    expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n')
    s.destroy()
  })

  it('the limit is the current snapshot\'s: a reload to 2s applies to the next CONNECT', async () => {
    const { g } = h
    const dir = join(h.pki.dir, 'in-process')
    writeFileSync(join(dir, 'gateway.yaml'), yaml(dir, '2s'))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    const answer = await connectTo(g.gw.port, silent.port, await bearer())
    expect(answer.status).toBe(504)
    expect(JSON.parse(answer.body)).toEqual({ errors: [{ msg: timeoutMsg(2), code: 504 }] })
  })
})

describe('with --workers 2', () => {
  const run = h.workers()

  it('the same 504, access line and samples from whichever worker dialled', async () => {
    const { gp } = run
    const admin = await adminUrlOf(gp)
    const port = Number(new URL(gp.url).port)
    const token = await bearer()
    const answers = await Promise.all([connectTo(port, silent.port, token), connectTo(port, silent.port, token)])
    for (const a of answers) expect({ status: a.status, body: JSON.parse(a.body) as unknown }).toEqual({ status: 504, body: { errors: [{ msg: timeoutMsg(1), code: 504 }] } })
    const lines = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.method === 'CONNECT')
    await eventually(() => lines().length === 2, 15_000, 'the two access lines')
    for (const line of lines()) expect(line).toMatchObject({ status: 504, reason: 'upstream_timeout', error: timeoutMsg(1), caller: 'bot' })
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '5xx' }) === 2, 15_000, 'two 5xx CONNECT samples')
    expect(valueOf(await scrape(admin), 'mtls_gateway_connect_tunnels_total', { kind: 'refused' })).toBe(2)
  })
})
