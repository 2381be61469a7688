/**
 * The interception CA is config like a bundle, and its dates are the clock's like a bundle's.
 * Read and checked when a snapshot is built: a refused reload keeps minting with the old CA,
 * an accepted one with the new, whatever CONNECTs came before and in every worker. Outside its
 * validity only CONNECT interception is refused (503, naming the CA's date, logged and
 * counted): start and reload proceed, route mode, forward proxy and pass-through serve,
 * /readyz stays 200, `check` fails; adopting such a config logs a warning, and the CA's dates
 * (expiry, not-before) are exported from the snapshot, never read again from the files. Every
 * refused CONNECT is one access line and one requests_total sample, never showing the
 * credential it carried (a pass-through tunnel is one too, when it closes).
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Server as TcpServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, MAIN, spawnGateway, type GatewayProcess } from '../support/process.js'
import { finalEntries } from '../support/log-entries.js'
import { ConnectRefused, openTunnel } from '../support/tunnel.js'
import { eventually, get, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { loadConfig } from '../../src/config/index.js'
import { compileGateway } from '../../src/gateway/index.js'
import { certificateValidities } from '../../src/ops/index.js'
import { sendSignal } from '../support/signals.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const HEAD = 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n'

let pki: TestPki
let upstream: RunningServer
let echoTcp: TcpServer
const stops: (() => Promise<unknown>)[] = []

interface CaFiles {
  caCert: string
  caKey: string
  pem: string
  subject: string
}

/** A self-signed interception CA valid from `from` until `until`, written as `<name>.crt`/`.key`. */
async function writeCa(name: string, until: Date, from = new Date(Date.now() - 60_000)): Promise<CaFiles> {
  const subject = `CN=ica ${name}`
  const ca = await pki.issue({ subject, kind: 'p256', ca: true, pathLength: 0, notBefore: from, notAfter: until })
  const files = pki.writePair(name, ca)
  return { caCert: files.cert, caKey: files.key, pem: ca.pem, subject }
}

const tls = (): Record<string, string> => clientTls(pki)
const authority = (): string => `api.partner.test:${upstream.port}`
const echoPort = (): number => (echoTcp.address() as AddressInfo).port
const inAYear = (): Date => new Date(Date.now() + 365 * 86_400_000)

/** Endpoint `partner` (interceptable), a pass-through echo, optionally caller apps. */
function config(ca: { caCert: string; caKey: string }, o: { callers?: boolean; extra?: string } = {}): string {
  const callers = o.callers
    ? `store: { kind: sqlite, file: ${join(pki.dir, `store-${Math.random().toString(36).slice(2)}.db`)} }\ncallers:\n  apps:\n    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }\n`
    : ''
  return `${HEAD}${callers}interception:\n  caCert: ${ca.caCert}\n  caKey: ${ca.caKey}\n  passThrough: [{ host: 127.0.0.1, port: ${echoPort()}, allowPrivate: true }]\nendpoints:\n${endpointYaml('partner', upstream.port, tls())}${o.extra ?? ''}`
}

/** A caller JWT without `jti`: accepted directly as a bearer. */
function jwt(): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub: 'user-1', iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
}

/** An intercepted CONNECT trusting `ca`, one request inside: the status and the leaf's issuer; or the refusal. */
async function intercepted(port: number, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; issuer?: string; body: string }> {
  try {
    const socket = await openTunnel({ gatewayPort: port, authority: authority(), ca, headers })
    const issuer = String(socket.getPeerCertificate().issuer.CN)
    const text = await new Promise<string>((resolve, reject) => {
      let got = ''
      socket.on('data', (c: Buffer) => (got += c.toString('utf8')))
      socket.once('end', () => resolve(got))
      socket.once('error', reject)
      socket.write(`GET /inside HTTP/1.1\r\nHost: ${authority()}\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
    })
    return { status: Number(text.slice(9, 12)), issuer, body: text.slice(text.indexOf('\r\n\r\n') + 4) }
  } catch (e) {
    if (e instanceof ConnectRefused) return { status: e.status, body: e.raw.slice(e.raw.indexOf('\r\n\r\n') + 4) }
    throw e
  }
}

/** CONNECT to the pass-through echo: the first line of the answer. */
function passThrough(port: number, headers: Record<string, string> = {}): Promise<string> {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${echoPort()} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort()}\r\n${extra}\r\n`))
    s.once('data', (c: Buffer) => {
      s.destroy()
      resolve(c.toString('latin1').split('\r\n')[0] ?? '')
    })
    s.once('error', reject)
  })
}

const portOf = (url: string): number => Number(new URL(url).port)

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  echoTcp = createTcpServer((s) => s.pipe(s))
  await new Promise<void>((r) => echoTcp.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  for (const stop of stops) await stop()
  await upstream?.close()
  echoTcp?.close()
  pki?.cleanup()
})

async function inProcess(name: string, yaml: string): Promise<OpsGateway> {
  const dir = join(pki.dir, name)
  mkdirSync(dir)
  const g = await startOpsGateway(dir, yaml, { watch: false })
  stops.push(() => g.gw.close())
  return g
}

const rewrite = (name: string, yaml: string): void => replaceFile(join(pki.dir, name, 'gateway.yaml'), yaml)

describe('an interception CA outside its validity degrades CONNECT interception only', () => {
  let expired: CaFiles
  let configFile: string
  beforeAll(async () => {
    expired = await writeCa('expired', new Date('2021-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'))
    configFile = join(pki.dir, 'expired-ca.yaml')
    writeFileSync(configFile, config(expired, { callers: true }))
  })
  const refusal = (): string => `CONNECT to ${authority()} refused: TLS interception is unavailable: the interception CA expired on 2021-01-01T00:00:00.000Z ("CN=ica expired")`

  for (const workers of ['1', '2']) {
    it(`serve --workers ${workers} starts; the other ways in serve; CONNECT gets 503, logged and counted; /readyz 200`, async ({ expect }) => {
      const gp: GatewayProcess = await spawnGateway(configFile, ['--workers', workers])
      stops.push(() => gp.stop('SIGKILL'))
      const admin = await adminUrlOf(gp)
      const bearer = { 'proxy-authorization': `Bearer ${await jwt()}` }
      const port = portOf(gp.url)
      const route = await send(gp.url, '/proxy/partner/route', { headers: bearer })
      expect(route.status, route.text).toBe(200)
      expect(route.json<EchoReply>().clientSubject).toContain('CN=bot-runtime')
      const forward = await send(gp.url, `http://${authority()}/forward`, { headers: bearer })
      expect(forward.status, forward.text).toBe(200)
      expect(await passThrough(port, bearer)).toBe('HTTP/1.1 200 Connection Established')
      for (let i = 0; i < 4; i++) {
        const r = await intercepted(port, expired.pem, bearer)
        expect(r.status).toBe(503)
        expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: refusal(), code: 503 }] })
      }
      expect(await get(`${admin}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
      const lines = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.method === 'CONNECT')
      // One per refused CONNECT, and the pass-through tunnel's once it closed.
      await eventually(() => lines().length === 5, 30_000, 'one access line per CONNECT')
      const refused = lines().filter((e) => e.status !== 200)
      expect(refused).toHaveLength(4)
      for (const line of refused) expect(line).toMatchObject({ mode: 'connect', method: 'CONNECT', status: 503, reason: 'unavailable', error: refusal(), caller: 'bot' })
      expect(lines().filter((e) => e.status === 200)).toEqual([expect.objectContaining({ passThrough: `127.0.0.1:${echoPort()}`, caller: 'bot' })])
      const m = await scrape(admin)
      expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '5xx' })).toBe(4)
      expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '2xx' })).toBe(1)
      expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'refused' })).toBe(4)
      expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(Date.parse('2021-01-01T00:00:00Z') / 1000)
      expect(valueOf(m, 'mtls_gateway_certificate_not_before_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(Date.parse('2020-01-01T00:00:00Z') / 1000)
      // Said once per instance, as for a degraded endpoint: by the one process, or by the primary for its workers (read once every line is out).
      const warned = (await finalEntries(gp)).filter((e) => e.reason === 'interception_ca_expired')
      expect(warned.map((e) => [e.level, e.problem, e.pid])).toEqual([['warn', 'the interception CA expired on 2021-01-01T00:00:00.000Z ("CN=ica expired")', gp.child.pid]])
      expect(gp.output.join('\n')).not.toContain(bearer['proxy-authorization'].slice(7))
    }, 120_000)
  }

  it('check still exits 1, naming the CA and its date', async ({ expect }) => {
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check', '--config', configFile]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    )
    expect(r.code).toBe(1)
    // At caCert's line and column in the config, naming the CA file (before: the CA file's name in place of the config's, no line).
    const lines = readFileSync(configFile, 'utf8').split('\n')
    const at = `${configFile}:${lines.findIndex((l) => l.startsWith('  caCert: ')) + 1}:11`
    expect(r.stderr).toContain(`${at}: interception.caCert: ${expired.caCert}: the interception CA expired on 2021-01-01T00:00:00.000Z ("CN=ica expired")\n`)
  })

  it('a hot reload to an expired CA is accepted as a fresh start is; a renewed CA then intercepts again', async ({ expect }) => {
    const good = await writeCa('before-expired', inAYear())
    const g = await inProcess('reload-expired', config(good))
    expect((await intercepted(g.gw.port, good.pem)).status).toBe(200)
    rewrite('reload-expired', config(expired))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    expect(JSON.parse((await intercepted(g.gw.port, expired.pem)).body)).toEqual({ errors: [{ msg: refusal(), code: 503 }] })
    expect((await send(g.gw.url, '/proxy/partner/x')).status).toBe(200)
    const renewed = await writeCa('renewed', inAYear())
    rewrite('reload-expired', config(renewed))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    expect(await intercepted(g.gw.port, renewed.pem)).toMatchObject({ status: 200, issuer: 'ica renewed' })
  })

  it.concurrent('a CA that expires while running: CONNECT degrades, and an unrelated reload is still accepted', async ({ expect }) => {
    const until = new Date(Math.ceil(Date.now() / 1000) * 1000 + 8000)
    const short = await writeCa('short', until)
    const g = await inProcess('expires-running', config(short))
    const before = await intercepted(g.gw.port, short.pem)
    if (Date.now() >= until.getTime()) throw new Error('the machine was too slow: the CONNECT before expiry ended after it')
    expect(before).toMatchObject({ status: 200, issuer: 'ica short' })
    await eventually(() => Date.now() > until.getTime() + 1500, 20_000, 'the CA to expire')
    const after = await intercepted(g.gw.port, short.pem)
    expect(JSON.parse(after.body)).toEqual({ errors: [{ msg: `CONNECT to ${authority()} refused: TLS interception is unavailable: the interception CA expired on ${until.toISOString()} ("CN=ica short")`, code: 503 }] })
    // Renewing another endpoint's bundle (here: adding one) must not be blocked by the CA.
    rewrite('expires-running', config(short, { extra: endpointYaml('second', upstream.port, tls()) }))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 2 })
    expect((await send(g.gw.url, '/proxy/second/x')).status).toBe(200)
    expect(await passThrough(g.gw.port)).toBe('HTTP/1.1 200 Connection Established')
    expect(await get(`${g.adminUrl}/readyz`)).toEqual({ status: 200, text: '{"status":"ready"}' })
    // The refused CONNECT, and the pass-through tunnel once it closed.
    await eventually(() => g.access().filter((e) => e.method === 'CONNECT').length === 2, 10_000, 'the CONNECT access lines')
    expect(g.access().filter((e) => e.method === 'CONNECT').map((e) => [e.status, e.reason])).toEqual([[503, 'unavailable'], [200, undefined]])
  })

  it.concurrent('a CA not yet valid: CONNECT is refused until its time comes, then intercepts', async ({ expect }) => {
    const from = new Date(Math.ceil(Date.now() / 1000) * 1000 + 8000)
    const early = await writeCa('early', inAYear(), from)
    const g = await inProcess('not-yet', config(early))
    const first = await intercepted(g.gw.port, early.pem)
    if (Date.now() >= from.getTime()) throw new Error('the machine was too slow: the first CONNECT ended after notBefore')
    expect(JSON.parse(first.body)).toEqual({ errors: [{ msg: `CONNECT to ${authority()} refused: TLS interception is unavailable: the interception CA is not valid before ${from.toISOString()} ("CN=ica early")`, code: 503 }] })
    await eventually(() => Date.now() > from.getTime() + 1000, 20_000, 'notBefore to pass')
    expect(await intercepted(g.gw.port, early.pem)).toMatchObject({ status: 200, issuer: 'ica early' })
  })
})

describe('the interception CA is read with the snapshot, not at the first CONNECT', () => {
  for (const prior of [false, true]) {
    it(`a refused reload keeps the old CA and an accepted one switches (${prior ? 'after' : 'without'} a CONNECT before)`, async ({ expect }) => {
      const a = await writeCa(`a-${prior}`, inAYear())
      const b = await writeCa(`b-${prior}`, inAYear())
      const g = await inProcess(`snapshot-${prior}`, config(a))
      if (prior) expect(await intercepted(g.gw.port, a.pem)).toMatchObject({ status: 200, issuer: `ica a-${prior}` })
      // Another CA's key over this CA's key file: no start would accept it, so the reload is refused.
      const aKey = readFileSync(a.caKey, 'utf8')
      replaceFile(a.caKey, readFileSync(b.caKey, 'utf8'))
      const refused = await g.gw.ops?.reload('test')
      expect(JSON.stringify(refused)).toContain('interception CA key does not match its certificate')
      for (let i = 0; i < 2; i++) expect(await intercepted(g.gw.port, a.pem)).toMatchObject({ status: 200, issuer: `ica a-${prior}` })
      // Put back, then point the config at CA b: accepted, and every new tunnel is b's.
      replaceFile(a.caKey, aKey)
      rewrite(`snapshot-${prior}`, config(b))
      expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
      expect(await intercepted(g.gw.port, b.pem)).toMatchObject({ status: 200, issuer: `ica b-${prior}` })
      await expect(intercepted(g.gw.port, a.pem)).rejects.toThrow()
    })
  }

  it('serve --workers 2: each worker keeps the old CA through a refused reload and takes the new one on an accepted one', async ({ expect }) => {
    const a = await writeCa('wa', inAYear())
    const b = await writeCa('wb', inAYear())
    const file = join(pki.dir, 'workers-snapshot.yaml')
    writeFileSync(file, config(a))
    const gp = await spawnGateway(file, ['--workers', '2'])
    stops.push(() => gp.stop('SIGKILL'))
    await adminUrlOf(gp)
    const port = portOf(gp.url)
    const entries = (): Record<string, unknown>[] => gp.logEntries()
    const workersSaying = (msg: string, from: number): number => new Set(entries().slice(from).filter((e) => e.msg === msg).map((e) => e.pid)).size
    // One worker may have served a CONNECT, the other not: both must answer alike.
    expect((await intercepted(port, a.pem)).status).toBe(200)
    let mark = entries().length
    replaceFile(a.caKey, readFileSync(b.caKey, 'utf8'))
    sendSignal(gp.child, 'SIGHUP')
    // The primary's verdict refuses it (it judges what the workers would build): nothing is relayed.
    await eventually(() => entries().slice(mark).some((e) => e.msg === 'config reload failed; keeping the last good config' && e.pid === gp.child.pid), 60_000, 'the instance to refuse the reload')
    const kept = await Promise.all(Array.from({ length: 6 }, () => intercepted(port, a.pem)))
    expect(kept.map((r) => [r.status, r.issuer])).toEqual(Array(6).fill([200, 'ica wa']))
    mark = entries().length
    writeFileSync(file, config(b))
    sendSignal(gp.child, 'SIGHUP')
    await eventually(() => workersSaying('config reloaded', mark) >= 2, 60_000, 'both workers to reload')
    const switched = await Promise.all(Array.from({ length: 6 }, () => intercepted(port, b.pem)))
    expect(switched.map((r) => [r.status, r.issuer])).toEqual(Array(6).fill([200, 'ica wb']))
  }, 120_000)
})

describe('a refused CONNECT is a request like any other', () => {
  it('407, 403 (host not configured) and 403 (pass-through egress) each give one access line and a requests_total sample, without the credential', async ({ expect }) => {
    const ca = await writeCa('refusals', inAYear())
    const g = await inProcess('refusals', config(ca, { callers: true }).replace(`host: 127.0.0.1, port: ${echoPort()}, allowPrivate: true`, `host: 127.0.0.1, port: ${echoPort()}, allowPrivate: false`))
    const token = await jwt()
    expect((await intercepted(g.gw.port, ca.pem)).status).toBe(407)
    const unconfigured = await new Promise<string>((resolve, reject) => {
      const s = tcpConnect(g.gw.port, '127.0.0.1', () => s.write(`CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`))
      s.once('data', (c: Buffer) => resolve(c.toString('latin1').split('\r\n')[0] ?? ''))
      s.once('error', reject)
    })
    expect(unconfigured).toMatch(/^HTTP\/1\.1 403 /)
    expect(await passThrough(g.gw.port, { 'proxy-authorization': `Bearer ${token}` })).toMatch(/^HTTP\/1\.1 403 /)
    expect((await intercepted(g.gw.port, ca.pem, { 'proxy-authorization': `Bearer ${token}` })).status).toBe(200)
    const lines = (): Record<string, unknown>[] => g.access().filter((e) => e.method === 'CONNECT')
    await eventually(() => lines().length === 3, 10_000, 'the access lines')
    // Each by its reason, not its place: a line is written once its CONNECT finished on the gateway's side.
    const line = (reason: string): Record<string, unknown> | undefined => lines().find((e) => e.reason === reason)
    expect(lines().map((e) => [e.mode, e.status, e.reason]).sort()).toEqual([
      ['connect', 403, 'egress_denied'],
      ['connect', 403, 'endpoint_not_configured'],
      ['connect', 407, 'caller_credentials_missing'],
    ])
    expect(line('endpoint_not_configured')).toMatchObject({ method: 'CONNECT', error: 'CONNECT to example.invalid:443 refused: host is not configured on this gateway' })
    expect(line('egress_denied')).toMatchObject({ caller: 'bot', error: expect.stringContaining(`pass-through 127.0.0.1:${echoPort()}: `) })
    expect(g.lines.join('')).not.toContain(token)
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'CONNECT', status_class: '4xx' })).toBe(3)
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'refused' })).toBe(3)
  })
})

describe('the interception CA\'s metrics and warnings describe the CA the snapshot holds', () => {
  const unix = (d: Date): number => Math.floor(d.getTime() / 1000)
  const caDates = (g: Parameters<typeof certificateValidities>[0]): { notBefore: number; notAfter: number } | undefined => {
    const e = certificateValidities(g).find((x) => x.kind === 'interception_ca')
    return e ? { notBefore: unix(e.notBefore), notAfter: unix(e.notAfter) } : undefined
  }

  it('the files replaced or removed after the snapshot was built change nothing: the dates are the snapshot\'s', async ({ expect }) => {
    const from = new Date('2025-03-01T00:00:00Z')
    const until = new Date(Date.now() + 200 * 86_400_000)
    const a = await writeCa('facts-a', new Date(Math.floor(until.getTime() / 1000) * 1000), from)
    const file = join(pki.dir, 'facts.yaml')
    writeFileSync(file, config(a))
    const snapshot = compileGateway(loadConfig(file))
    try {
      const want = { notBefore: unix(from), notAfter: Math.floor(until.getTime() / 1000) }
      expect(caDates(snapshot)).toEqual(want)
      // Another CA's files over these ones (what a reload would refuse, or has not read yet).
      const b = await writeCa('facts-b', inAYear(), new Date(Date.now() - 86_400_000))
      replaceFile(a.caCert, readFileSync(b.caCert, 'utf8'))
      replaceFile(a.caKey, readFileSync(b.caKey, 'utf8'))
      expect(caDates(snapshot)).toEqual(want)
      unlinkSync(a.caCert)
      expect(caDates(snapshot)).toEqual(want)
    } finally {
      await snapshot.close()
    }
  })

  it('a CA not yet valid has a not-before gauge and a warning at start; an expired one at reload; a valid one neither', async ({ expect }) => {
    const from = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000)
    const early = await writeCa('signal-early', inAYear(), from)
    const g = await inProcess('ca-signals', config(early))
    const warnings = (mark = 0): Record<string, unknown>[] => g.lines.slice(mark).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'interception degraded: CONNECT to an intercepted host is refused (503) until the interception CA is valid; pass-through, forward proxy and route mode serve')
    expect(warnings().map((e) => [e.level, e.reason, e.problem])).toEqual([['warn', 'interception_ca_not_yet_valid', `the interception CA is not valid before ${from.toISOString()} ("CN=ica signal-early")`]])
    let m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_certificate_not_before_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(unix(from))
    // Every certificate has its start, the endpoint's bundle too.
    expect(valueOf(m, 'mtls_gateway_certificate_not_before_timestamp_seconds', { endpoint: 'partner', kind: 'client' })).toBe(unix(new Date(new X509Certificate(pki.client.pem).validFrom)))
    let mark = g.lines.length
    const expired = await writeCa('signal-expired', new Date('2022-06-01T00:00:00Z'), new Date('2021-06-01T00:00:00Z'))
    rewrite('ca-signals', config(expired))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    expect(warnings(mark).map((e) => [e.reason, e.problem])).toEqual([['interception_ca_expired', 'the interception CA expired on 2022-06-01T00:00:00.000Z ("CN=ica signal-expired")']])
    m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_certificate_not_before_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(Date.parse('2021-06-01T00:00:00Z') / 1000)
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(Date.parse('2022-06-01T00:00:00Z') / 1000)
    // A refused reload (another CA's key over this CA's key file) keeps the snapshot's CA, and its dates.
    mark = g.lines.length
    const other = await writeCa('signal-other', inAYear())
    replaceFile(expired.caKey, readFileSync(other.caKey, 'utf8'))
    expect((await g.gw.ops?.reload('test'))?.ok).toBe(false)
    m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(Date.parse('2022-06-01T00:00:00Z') / 1000)
    const valid = await writeCa('signal-valid', inAYear())
    rewrite('ca-signals', config(valid))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    expect(warnings(mark)).toEqual([])
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_certificate_not_before_timestamp_seconds', { endpoint: '', kind: 'interception_ca' })).toBe(unix(new Date(new X509Certificate(valid.pem).validFrom)))
  })
})
