/**
 * A pass-through tunnel has no inner requests to judge again, so it is judged again itself:
 * after a reload its next byte passes only if its CONNECT would be accepted under the new
 * config (its passThrough entry still there, its caller app still configured), as a fresh
 * start with that file would answer; otherwise the tunnel closes, that byte undelivered.
 */
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { eventually, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { GatewayError } from '../../src/errors.js'
import type { Gateway } from '../../src/gateway/index.js'
import { passThrough } from '../../src/proxy/pass-through.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const HS2 = 'another-secret-of-at-least-thirty-two-bytes'

let pki: TestPki
let upstream: RunningServer
let echoTcp: TcpServer
const stops: (() => Promise<unknown>)[] = []
const echoPort = (): number => (echoTcp.address() as AddressInfo).port

function config(o: { passThrough?: boolean; apps?: string } = {}): string {
  const ica = { caCert: pki.file('ica.crt'), caKey: pki.file('ica.key') }
  const pt = o.passThrough === false ? '' : `  passThrough: [{ host: 127.0.0.1, port: ${echoPort()}, allowPrivate: true }]\n`
  const apps = o.apps ?? `    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }\n    - { clientId: other, hs256Secret: "${HS2}", audience: "${AUD}", endpoints: [partner] }\n`
  const tls = clientTls(pki)
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(pki.dir, 'store.db')} }\ncallers:\n  apps:\n${apps}interception:\n  caCert: ${ica.caCert}\n  caKey: ${ica.caKey}\n${pt}endpoints:\n${endpointYaml('partner', upstream.port, tls)}`
}

function jwt(iss = 'bot', secret = HS): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss, aud: AUD, sub: 'user-1', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
}

/** An open pass-through tunnel: send bytes, read the echo (or '' once the tunnel closed). */
async function openPassThrough(port: number, bearer: string): Promise<{ echo(text: string): Promise<string>; socket: Socket }> {
  const socket = tcpConnect(port, '127.0.0.1')
  const received: Buffer[] = []
  let closed = false
  const waiters: (() => void)[] = []
  const wake = (): void => void waiters.splice(0).forEach((w) => w())
  socket.on('data', (c: Buffer) => (received.push(c), wake()))
  socket.on('close', () => ((closed = true), wake()))
  socket.on('error', () => {})
  await new Promise<void>((r) => socket.once('connect', r))
  socket.write(`CONNECT 127.0.0.1:${echoPort()} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort()}\r\nProxy-Authorization: Bearer ${bearer}\r\n\r\n`)
  const take = async (n: number): Promise<string> => {
    while (Buffer.concat(received).length < n && !closed) await new Promise<void>((r) => waiters.push(r))
    const all = Buffer.concat(received)
    received.splice(0, received.length, all.subarray(n))
    return all.subarray(0, n).toString('latin1')
  }
  const answer = 'HTTP/1.1 200 Connection Established\r\n\r\n'
  expect(await take(answer.length)).toBe(answer)
  return {
    socket,
    echo: async (text) => {
      if (!closed) socket.write(text)
      return take(text.length)
    },
  }
}

beforeAll(async () => {
  pki = await createTestPki('p256')
  const ca = await pki.issue({ subject: 'CN=ica', kind: 'p256', ca: true, pathLength: 0, notAfter: new Date(Date.now() + 365 * 86_400_000) })
  pki.writePair('ica', ca)
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  echoTcp = createTcpServer((s) => s.on('error', () => {}).pipe(s))
  await new Promise<void>((r) => echoTcp.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  for (const stop of stops) await stop()
  await upstream?.close()
  echoTcp?.close()
  pki?.cleanup()
})

async function gateway(name: string): Promise<{ g: OpsGateway; reload(yaml: string): Promise<unknown> }> {
  const dir = join(pki.dir, name)
  mkdirSync(dir)
  const g = await startOpsGateway(dir, config(), { watch: false })
  stops.push(() => g.gw.close())
  return {
    g,
    reload: async (yaml) => {
      replaceFile(join(dir, 'gateway.yaml'), yaml)
      return g.gw.ops?.reload('test')
    },
  }
}

describe('an open pass-through tunnel after a reload', () => {
  it('closes at its next byte when the reload removed its passThrough entry (a fresh start would refuse its CONNECT)', async () => {
    const { g, reload } = await gateway('entry-removed')
    const tunnel = await openPassThrough(g.gw.port, await jwt())
    expect(await tunnel.echo('before')).toBe('before')
    expect(await reload(config({ passThrough: false }))).toEqual({ ok: true, endpoints: 1 })
    expect(await tunnel.echo('after')).toBe('')
    await eventually(() => g.access().some((e) => e.method === 'CONNECT'), 10_000, 'the tunnel line')
    expect(g.access().filter((e) => e.method === 'CONNECT')).toMatchObject([{ status: 200, reason: 'endpoint_not_configured', passThrough: `127.0.0.1:${echoPort()}` }])
  })

  it("closes at its next byte when the reload removed its caller's app; another app's tunnel goes on", async () => {
    const { g, reload } = await gateway('app-removed')
    const removed = await openPassThrough(g.gw.port, await jwt())
    const kept = await openPassThrough(g.gw.port, await jwt('other', HS2))
    expect(await removed.echo('one')).toBe('one')
    expect(await reload(config({ apps: `    - { clientId: other, hs256Secret: "${HS2}", audience: "${AUD}", endpoints: [partner] }\n` }))).toEqual({ ok: true, endpoints: 1 })
    expect(await removed.echo('two')).toBe('')
    expect(await kept.echo('still')).toBe('still')
    kept.socket.destroy()
  })

  it('goes on across a reload that keeps its entry and its app', async () => {
    const { g, reload } = await gateway('unrelated')
    const tunnel = await openPassThrough(g.gw.port, await jwt())
    expect(await reload(config().replace('endpoints: [partner] }', 'endpoints: ["*"] }'))).toEqual({ ok: true, endpoints: 1 })
    expect(await tunnel.echo('same')).toBe('same')
    tunnel.socket.destroy()
  })
})

/**
 * A reload that lands while a CONNECT is admitted or its destination dialled finds no tunnel yet
 * (the reload judges open tunnels only): the tunnel, once open, is judged under the snapshot then
 * in force when that is not the one its CONNECT was judged under. passThrough itself, over real
 * TCP (a caller socket, the echo destination); the snapshots stand in by identity.
 */
describe('a pass-through tunnel whose CONNECT a reload overtook', () => {
  async function open(opened: Gateway, current: Gateway, refuseUnder: Gateway | undefined): Promise<{ judged: Gateway[]; closed: Promise<GatewayError | undefined>; client: Socket }> {
    const server = createTcpServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    stops.push(async () => server.close())
    const accepted = new Promise<Socket>((r) => server.once('connection', r))
    const client = tcpConnect((server.address() as AddressInfo).port, '127.0.0.1').on('error', () => {})
    const socket = await accepted
    const judged: Gateway[] = []
    let done: (e: GatewayError | undefined) => void = () => {}
    const closed = new Promise<GatewayError | undefined>((r) => (done = r))
    const judge = async (g: Gateway): Promise<GatewayError | undefined> => (judged.push(g), g === refuseUnder ? new GatewayError('endpoint_not_configured', 'pass-through closed: no longer a pass-through host') : undefined)
    const target = { host: '127.0.0.1', port: echoPort(), allowPrivate: true, connectTimeoutMs: 0 }
    await passThrough(socket, Buffer.alloc(0), `127.0.0.1:${echoPort()}`, target, { limits: { tunnelIdleMs: 0 }, track: () => {}, onTimeout: () => {} }, done, { opened, current: () => current, judge })
    return { judged, closed, client }
  }
  const before = { name: 'before the reload' } as unknown as Gateway
  const after = { name: 'after the reload' } as unknown as Gateway

  it('is judged at once under the new snapshot and, refused there, closes without waiting for a byte', async () => {
    const t = await open(before, after, after)
    expect(await t.closed).toMatchObject({ reason: 'endpoint_not_configured' })
    expect(t.judged).toEqual([after])
  })

  it('is not judged again when no reload came (its CONNECT was judged under the snapshot in force)', async () => {
    const t = await open(before, before, before)
    let got = ''
    const echoed = new Promise<string>((r) => t.client.on('data', (c: Buffer) => void ((got += c.toString('latin1')).endsWith('\r\n\r\nx') && r(got))))
    t.client.write('x')
    expect(await echoed).toBe('HTTP/1.1 200 Connection Established\r\n\r\nx')
    expect(t.judged).toEqual([])
    t.client.destroy()
  })
})
