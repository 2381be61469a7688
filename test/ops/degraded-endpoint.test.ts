/**
 * A bundle certificate that expires degrades its endpoint only, against the clock at request
 * time: the endpoint answers 502 `client_cert_expired` without dialling, without reusing a
 * kept-alive connection and without resuming a TLS session made while the certificate was
 * valid; the other endpoints serve, /readyz stays 200, `endpoint_degraded` shows it. The same
 * in a fresh in-process start, after a hot reload, and in `serve --workers 2`; and a start with
 * an already-expired endpoint serves the others (while `check` fails).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, type Reply } from '../support/gateway.js'
import { adminUrlOf, MAIN, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, get, scrape, startOpsGateway, valueOf } from './helpers.js'

/**
 * Seconds a short-lived client certificate is valid for, tried in turn: the first is enough to start
 * a gateway with two workers and make the requests before the expiry on a lightly loaded machine;
 * a loaded one gets the next (see expiresAfterStart). The expiry is a real clock's: each second of
 * the lifetime that is used is a second of the test's wall time.
 */
const LIFETIMES_S = [10, 30, 90] as const

/** An upstream that requires a client certificate and counts TCP connections and requests. */
interface Peer extends RunningServer {
  connections: number
  requests: number
}

/** What the peer saw on one request: the client certificate's subject and whether the TLS session was resumed. */
interface Seen {
  subject: string | null
  resumed: boolean
}

let pki: TestPki
const peers: Peer[] = []
const stops: (() => Promise<unknown>)[] = []

async function startPeer(closeEachConnection: boolean): Promise<Peer> {
  let peer: Peer | undefined
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (peer) peer.requests++
    const socket = req.socket as TLSSocket
    const seen: Seen = { subject: (socket.getPeerCertificate().subject?.CN as string | undefined) ?? null, resumed: socket.isSessionReused() }
    const body = JSON.stringify(seen)
    // `close` makes every request a new TLS connection, which the gateway would resume.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: closeEachConnection ? 'close' : 'keep-alive' })
    res.end(body)
  }
  const server = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  peer = Object.assign(server, { connections: 0, requests: 0 })
  server.server.on('connection', () => void (peer as Peer).connections++)
  peers.push(peer)
  return peer
}

/** Client bundle files for a certificate valid from `from` (default a minute ago) until `until`. */
async function bundle(name: string, until: Date, from = new Date(Date.now() - 60_000)): Promise<Record<string, string>> {
  const cert = await pki.issue({ subject: `CN=${name}`, issuer: pki.inter, usages: ['clientAuth'], notBefore: from, notAfter: until })
  const files = pki.writePair(name, cert)
  return { ...files, intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
}

const steadyTls = (): Record<string, string> => clientTls(pki)

function errorOf(r: Reply): { msg: string; code: number } {
  return (r.json<{ errors: { msg: string; code: number }[] }>().errors[0]) as { msg: string; code: number }
}

/** A running gateway, however it was started. */
interface Target {
  url: string
  admin: string
  /** Reasons of the access-log lines so far. */
  reasons(): string[]
}

/** Three endpoints: `steady` (long-lived bundle), `short-ka` and `short-resume` (a bundle that expires at `until`). */
interface ExpiringConfig {
  keepAlive: Peer
  resume: Peer
  steady: Peer
}

async function expiringConfig(tag: string, until: Date): Promise<ExpiringConfig & { yaml: string }> {
  const [keepAlive, resume, steady] = [await startPeer(false), await startPeer(true), await startPeer(false)]
  const short = await bundle(`short-${tag}`, until)
  const yaml = `endpoints:\n${endpointYaml('steady', steady.port, steadyTls())}${endpointYaml('short-ka', keepAlive.port, short)}${endpointYaml('short-resume', resume.port, short)}`
  return { yaml, keepAlive, resume, steady }
}

const degradedOf = async (target: Target, endpoint: string): Promise<number | undefined> => valueOf(await scrape(target.admin), 'mtls_gateway_endpoint_degraded', { endpoint, reason: 'client_cert_expired' })

/** What was seen before the expiry: the requests (served, kept-alive connections reused, sessions resumed) and the metric. */
interface Before {
  replies: Reply[]
  degraded: number | undefined
}

/** The requests and the scrape made before the expiry (so a later resumption would be visible); null when they ended after it. */
async function beforeExpiry(target: Target, until: Date): Promise<Before | null> {
  const replies: Reply[] = []
  for (let i = 0; i < 6; i++) replies.push(await send(target.url, `/proxy/short-ka/b${i}`), await send(target.url, `/proxy/short-resume/b${i}`))
  const degraded = await degradedOf(target, 'short-ka')
  return Date.now() < until.getTime() ? { replies, degraded } : null
}

/** Checks what was seen before the expiry, then requests after it, with the same pools and session caches. */
async function expiresWhileRunning(expect: ExpectStatic, target: Target, until: Date, peersOf: ExpiringConfig, tag: string, before: Before): Promise<void> {
  const degraded = (endpoint: string): Promise<number | undefined> => degradedOf(target, endpoint)
  expect(before.replies.map((r) => r.status)).toEqual(Array(12).fill(200))
  expect(new Set(before.replies.map((r) => r.json<Seen>().subject))).toEqual(new Set([`short-${tag}`]))
  expect(before.replies.some((r) => r.json<Seen>().resumed)).toBe(true)
  expect(peersOf.keepAlive.connections).toBeLessThan(6)
  expect(before.degraded).toBe(0)
  const seen = { ka: [peersOf.keepAlive.connections, peersOf.keepAlive.requests], resume: [peersOf.resume.connections, peersOf.resume.requests] }

  // X.509 notAfter is inclusive, to the second: past it by a margin, every call is refused.
  await eventually(() => Date.now() > until.getTime() + 1500, until.getTime() - Date.now() + 30_000, 'the client certificate to expire')
  const after: Reply[] = []
  for (let i = 0; i < 6; i++) after.push(await send(target.url, `/proxy/short-ka/a${i}`), await send(target.url, `/proxy/short-resume/a${i}`))
  expect(after.map((r) => r.status)).toEqual(Array(12).fill(502))
  for (const [i, r] of after.entries()) {
    expect(errorOf(r)).toEqual({ msg: `endpoint "${i % 2 === 0 ? 'short-ka' : 'short-resume'}": client certificate expired on ${until.toISOString()} ("CN=short-${tag}")`, code: 502 })
  }
  // Not one connection, request or resumed session reached the upstreams after the expiry.
  expect({ ka: [peersOf.keepAlive.connections, peersOf.keepAlive.requests], resume: [peersOf.resume.connections, peersOf.resume.requests] }).toEqual(seen)
  await eventually(() => target.reasons().filter((r) => r === 'client_cert_expired').length === 12, 30_000, 'the access-log lines')
  expect(await degraded('short-ka')).toBe(1)
  expect(await degraded('short-resume')).toBe(1)
  expect(await degraded('steady')).toBe(0)
  expect((await send(target.url, '/proxy/steady/x')).status).toBe(200)
  expect(await get(`${target.admin}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
}

const soon = (lifetimeS: number): Date => new Date(Math.ceil(Date.now() / 1000) * 1000 + lifetimeS * 1000)

/**
 * Issues a certificate expiring `lifetime` seconds from now, starts a gateway with it, makes the
 * requests before the expiry, then runs `expiresWhileRunning`. A start that left under half the
 * lifetime, or requests that ended after the expiry (a loaded machine: a `--workers 2` start can
 * take most of 30 s), abandon the attempt, which is made again with the next lifetime, so the
 * requests before the expiry never race it; the assertions stay the same. The last lifetime's
 * attempt is not abandoned: its requests ending after the expiry fail the test.
 */
async function expiresAfterStart(expect: ExpectStatic, tag: string, start: (until: Date, tag: string) => Promise<{ target: Target; peers: ExpiringConfig }>): Promise<void> {
  for (const lifetimeS of LIFETIMES_S) {
    const last = lifetimeS === LIFETIMES_S[LIFETIMES_S.length - 1]
    const attempt = lifetimeS === LIFETIMES_S[0] ? tag : `${tag}-${lifetimeS}`
    const until = soon(lifetimeS)
    const { target, peers: peersOf } = await start(until, attempt)
    if (!last && until.getTime() - Date.now() < (lifetimeS * 1000) / 2) continue
    const before = await beforeExpiry(target, until)
    if (before) return expiresWhileRunning(expect, target, until, peersOf, attempt, before)
    if (last) throw new Error('the machine was too slow: the requests before expiry ended after it (raise LIFETIMES_S)')
  }
}

/** The longest `expiresAfterStart` can take: every lifetime used up, then the last one's waits. */
const EXPIRES_AFTER_START_MS = (LIFETIMES_S.reduce((a, b) => a + b, 0) + 30 + 90) * 1000

function inProcessTarget(g: Awaited<ReturnType<typeof startOpsGateway>>): Target {
  return { url: g.gw.url, admin: g.adminUrl, reasons: () => g.access().map((e) => String(e.reason)) }
}

function processTarget(gp: GatewayProcess, admin: string): Target {
  const entries = (): Record<string, unknown>[] => gp.logEntries()
  return { url: gp.url, admin, reasons: () => entries().filter((e) => e.msg === 'request').map((e) => String(e.reason)) }
}

async function spawnWithAdmin(config: string, args: string[]): Promise<{ gp: GatewayProcess; admin: string }> {
  const gp = await spawnGateway(config, args)
  stops.push(() => gp.stop('SIGKILL'))
  return { gp, admin: await adminUrlOf(gp) }
}

const HEAD = 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n'

beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(async () => {
  for (const stop of stops) await stop()
  for (const p of peers) await p.close()
  pki?.cleanup()
})

// Both groups side by side: the first mostly waits for certificates to expire, and each test has gateways and peers of its own.
describe.concurrent('a client certificate whose validity changes while the gateway runs', () => {
  /** In process: started with the three endpoints, or with `steady` only and then reloaded to all three. */
  function inProcess(expect: ExpectStatic, tag: string, reload: boolean): Promise<void> {
    return expiresAfterStart(expect, tag, async (until, attempt) => {
      const c = await expiringConfig(attempt, until)
      const dir = join(pki.dir, attempt)
      mkdirSync(dir)
      const g = await startOpsGateway(dir, reload ? `${HEAD}endpoints:\n${endpointYaml('steady', c.steady.port, steadyTls())}` : HEAD + c.yaml, { watch: false })
      stops.push(() => g.gw.close())
      if (reload) {
        writeFileSync(join(dir, 'gateway.yaml'), HEAD + c.yaml)
        expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 3 })
      }
      return { target: inProcessTarget(g), peers: c }
    })
  }

  it.concurrent('degrades only its endpoint (fresh start, in process)', ({ expect }) => inProcess(expect, 'fresh', false), EXPIRES_AFTER_START_MS)

  it.concurrent('degrades only its endpoint after a hot reload added it', ({ expect }) => inProcess(expect, 'reloaded', true), EXPIRES_AFTER_START_MS)

  it.concurrent('a not-yet-valid certificate degrades its endpoint until its time comes, then it serves', async ({ expect }) => {
    const from = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10_000)
    const peer = await startPeer(false)
    const dir = join(pki.dir, 'not-yet')
    mkdirSync(dir)
    const g = await startOpsGateway(dir, `${HEAD}endpoints:\n${endpointYaml('early', peer.port, await bundle('early', new Date(Date.now() + 86_400_000), from))}`, { watch: false })
    stops.push(() => g.gw.close())
    const early = await send(g.gw.url, '/proxy/early/x')
    if (Date.now() >= from.getTime()) throw new Error('the machine was too slow: the first request ended after notBefore')
    expect(errorOf(early)).toEqual({ msg: `endpoint "early": client certificate is not valid before ${from.toISOString()} ("CN=early")`, code: 502 })
    expect(peer.connections).toBe(0)
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_endpoint_degraded', { endpoint: 'early', reason: 'client_cert_not_yet_valid' })).toBe(1)
    await eventually(() => Date.now() > from.getTime() + 1000, 30_000, 'notBefore to pass')
    const served = await send(g.gw.url, '/proxy/early/y')
    expect(served.status).toBe(200)
    expect(served.json<Seen>().subject).toBe('early')
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_endpoint_degraded', { endpoint: 'early', reason: 'client_cert_not_yet_valid' })).toBe(0)
  })

  it.concurrent('degrades only its endpoint in serve --workers 2', ({ expect }) => expiresAfterStart(expect, 'workers', async (until, attempt) => {
    const c = await expiringConfig(attempt, until)
    const config = join(pki.dir, `${attempt}.yaml`)
    writeFileSync(config, HEAD + c.yaml)
    const { gp, admin } = await spawnWithAdmin(config, ['--workers', '2'])
    return { target: processTarget(gp, admin), peers: c }
  }), EXPIRES_AFTER_START_MS)
})

describe.concurrent('a start with an already-expired endpoint', () => {
  let config: string
  let old: Peer
  let steady: Peer
  beforeAll(async () => {
    ;[old, steady] = [await startPeer(false), await startPeer(false)]
    const expired = await bundle('old', new Date('2021-01-01T00:00:00Z'))
    config = join(pki.dir, 'expired-at-start.yaml')
    writeFileSync(config, `${HEAD}endpoints:\n${endpointYaml('steady', steady.port, steadyTls())}${endpointYaml('old', old.port, expired)}`)
  })

  for (const workers of ['1', '2']) {
    it(`serves the other endpoints with --workers ${workers}: /readyz 200, the metric shows the degraded one`, async ({ expect }) => {
      const { gp, admin } = await spawnWithAdmin(config, ['--workers', workers])
      const target = processTarget(gp, admin)
      const calls = await Promise.all(Array.from({ length: 4 }, (_, i) => send(gp.url, `/proxy/steady/s${i}`)))
      expect(calls.map((r) => r.status)).toEqual([200, 200, 200, 200])
      const refused = await Promise.all(Array.from({ length: 4 }, (_, i) => send(gp.url, `/proxy/old/o${i}`)))
      for (const r of refused) expect(errorOf(r)).toEqual({ msg: 'endpoint "old": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old")', code: 502 })
      expect(old.connections).toBe(0)
      expect(await get(`${admin}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
      const m = await scrape(admin)
      expect(valueOf(m, 'mtls_gateway_endpoint_degraded', { endpoint: 'old', reason: 'client_cert_expired' })).toBe(1)
      expect(valueOf(m, 'mtls_gateway_endpoint_degraded', { endpoint: 'steady', reason: 'client_cert_expired' })).toBe(0)
      await eventually(() => target.reasons().filter((r) => r === 'client_cert_expired').length === 4, 30_000, 'the access-log lines')
      // The primary says it (a worker reports it at adoption) and writes its lines in batches of its
      // own: a worker's access lines can come out first on a loaded machine.
      await eventually(() => gp.output.some((l) => l.includes('"endpoint degraded') && l.includes('"endpoint":"old"')), 30_000, 'the endpoint degraded line')
    }, 120_000)
  }

  it('is accepted by a hot reload as by a fresh start, while a key mismatch is still refused', async ({ expect }) => {
    const dir = join(pki.dir, 'reload-expired')
    mkdirSync(dir)
    const g = await startOpsGateway(dir, `${HEAD}endpoints:\n${endpointYaml('steady', steady.port, steadyTls())}`, { watch: false })
    stops.push(() => g.gw.close())
    writeFileSync(join(dir, 'gateway.yaml'), readFileSync(config, 'utf8'))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 2 })
    expect(errorOf(await send(g.gw.url, '/proxy/old/r'))).toEqual({ msg: 'endpoint "old": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old")', code: 502 })
    expect((await send(g.gw.url, '/proxy/steady/r')).status).toBe(200)
    expect(await get(`${g.adminUrl}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
    // A problem that no clock fixes keeps refusing, like nginx -t: the last good config stays.
    writeFileSync(join(dir, 'gateway.yaml'), readFileSync(config, 'utf8').replace(pki.file('old.key'), pki.file('client.key')))
    const refused = await g.gw.ops?.reload('test')
    expect(refused?.ok).toBe(false)
    expect(JSON.stringify(refused)).toContain('private key does not match the client certificate')
    expect((await send(g.gw.url, '/proxy/steady/r2')).status).toBe(200)
  })

  it('degrades only the tenant whose own bundle expired', async ({ expect }) => {
    const dir = join(pki.dir, 'tenant')
    mkdirSync(dir)
    const acme = await bundle('old-acme', new Date('2021-01-01T00:00:00Z'))
    const tenants = `    tenants:\n      acme:\n        tls: ${JSON.stringify(acme)}\n`
    const multi = endpointYaml('multi', steady.port, steadyTls(), tenants).replace(`:${steady.port}\n`, `:${steady.port}/t/{tenant}\n`)
    const g = await startOpsGateway(dir, `${HEAD}endpoints:\n${multi}`, { watch: false })
    stops.push(() => g.gw.close())
    expect((await send(g.gw.url, '/proxy/multi@zeta/x')).status).toBe(200)
    expect(errorOf(await send(g.gw.url, '/proxy/multi@acme/x'))).toEqual({ msg: 'endpoint "multi" tenant "acme": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old-acme")', code: 502 })
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_endpoint_degraded', { endpoint: 'multi', reason: 'client_cert_expired' })).toBe(1)
    expect(await get(`${g.adminUrl}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
  })

  it('check still exits non-zero, naming the certificate and its date', async ({ expect }) => {
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check', '--config', config]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    )
    expect(r.code).toBe(1)
    // At the key's line in the config, naming the certificate file (before: that file's name in place of the config's, no line).
    expect(r.stderr).toContain(`${config}:18:13: endpoints[1].tls.cert: ${pki.file('old.crt')}: endpoint "old": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old")\n`)
    expect(r.stderr).toContain('check failed: 1 problem(s)')
  })
})
