/**
 * A hot reload behaves like a fresh start for CONNECT tunnels opened before it. A reload that
 * replaces the interception CA, moves a host to passThrough or removes its endpoint closes the
 * idle intercepted tunnels at once; an inner request in flight finishes; the next inner request
 * on such a tunnel is answered (421 tunnel_outdated, or the 403 a new CONNECT would get) with
 * `Connection: close`, so the caller reconnects and meets the new config. A pass-through tunnel
 * whose host a reload intercepts closes at the reload. A reload that changes none of it keeps
 * tunnels. Real peers: the `serve` process (one process, then `--workers 2`, reloaded by
 * SIGHUP), a real mTLS backend, Node's TLS client over a raw CONNECT socket.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, replaceFile } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
type CaName = 'old' | 'new' | 'future'
let cas: Record<CaName, { caCert: string; caKey: string }>
/** Held backend requests (path /hold): released by the test. */
const held: (() => void)[] = []

beforeAll(async () => {
  pki = await createTestPki()
  // A CA valid only from tomorrow: what a reload may install ahead of a rotation.
  const tomorrow = Date.now() + 86_400_000
  const future = pki.writePair('ica-future', await pki.issue({ subject: 'CN=ica future', kind: 'p256', ca: true, pathLength: 0, notBefore: new Date(tomorrow), notAfter: new Date(tomorrow + 365 * 86_400_000) }))
  cas = { old: await writeInterceptionCa(join(pki.dir, 'ica-old')), new: await writeInterceptionCa(join(pki.dir, 'ica-new')), future: { caCert: future.cert, caKey: future.key } }
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'),
    key: pki.file('server.key'),
    ca: pki.file('root.crt'),
    handler: (req, res) => (req.url === '/hold' ? void held.push(() => echo(req, res)) : echo(req, res)),
  })
  // An idle connection to the backend stays open (Node closes it after 5 s): only the gateway closes a tunnel here.
  upstream.server.keepAliveTimeout = 0
})

afterAll(async () => {
  for (const release of held.splice(0)) release()
  await upstream?.close()
  pki?.cleanup()
})

const authority = (): string => `localhost:${upstream.port}`

interface Shape {
  ca?: CaName
  /** The backend's host: intercepted (an endpoint), passThrough, or neither. */
  host?: 'intercepted' | 'passThrough' | 'none'
  /** false: no `interception` section. */
  interception?: false
  /** An unrelated change (the endpoint's connect timeout). */
  connectTimeout?: string
}

/**
 * Spare endpoints (never called) that bring the file's endpoint count to `endpoints`: a `config
 * reloaded` line's `endpoints` says which write it read (one write and its SIGHUP can make two reloads).
 */
function spares(pki: TestPki, endpoints: number, others: number): string {
  return Array.from({ length: Math.max(0, endpoints - others) }, (_, i) => `  - { name: spare${i}, url: "https://spare${i}.test", tls: ${clientTlsYaml(pki)} }\n`).join('')
}

function yaml(dir: string, s: Shape = {}, endpoints = 0): string {
  const ca = cas[s.ca ?? 'old']
  const host = s.host ?? 'intercepted'
  const pt = host === 'passThrough' ? `  passThrough: [{ host: localhost, port: ${upstream.port}, allowPrivate: true }]\n` : ''
  const partner = `  - name: partner\n    url: https://localhost:${upstream.port}\n    allowPrivate: true\n    timeouts: { connect: ${s.connectTimeout ?? '5s'} }\n    tls: ${clientTlsYaml(pki)}\n`
  // Another endpoint keeps the file valid when partner goes.
  const other = `  - name: other\n    url: https://other.test:443\n    tls: ${clientTlsYaml(pki)}\n`
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(dir, 'store.db')} }\n` +
    (s.interception === false ? '' : `interception:\n  caCert: ${ca.caCert}\n  caKey: ${ca.caKey}\n${pt}`) + `endpoints:\n${host === 'intercepted' ? partner : ''}${other}` +
    spares(pki, endpoints, host === 'intercepted' ? 2 : 1)
}

/** The raw CONNECT: the socket once the gateway answered 200. */
async function connect(port: number): Promise<{ raw: Socket; closed: Promise<void> }> {
  const raw = tcpConnect(port, '127.0.0.1')
  raw.on('error', () => undefined)
  const closed = new Promise<void>((r) => raw.once('close', () => r()))
  await new Promise<void>((r) => raw.once('connect', () => r()))
  raw.write(`CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`)
  const head = await new Promise<string>((r) => raw.once('data', (c: Buffer) => r(c.toString('latin1'))))
  expect(head).toBe('HTTP/1.1 200 Connection Established\r\n\r\n')
  return { raw, closed }
}

/** TLS over a CONNECT socket, trusting `ca` only; `client`: presenting the test client certificate (the backend's own handshake wants one). */
function tlsOver(raw: Socket, ca: string, client = false): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const identity = client ? { cert: readFileSync(pki.file('client.crt'), 'utf8') + readFileSync(pki.file('inter.crt'), 'utf8'), key: readFileSync(pki.file('client.key')) } : {}
    const tls = tlsConnect({ socket: raw, servername: 'localhost', ca, ...identity })
    tls.once('secureConnect', () => resolve(tls)).once('error', reject)
  })
}

interface Reply { status: number; head: string; body: string }

/** An intercepted tunnel trusting `ca`. */
async function tunnel(port: number, ca: string): Promise<{ send(path: string, write?: boolean): Promise<Reply>; closed: Promise<void>; tls: TLSSocket }> {
  const { raw, closed } = await connect(port)
  const tls = await tlsOver(raw, ca)
  return { send: requests(tls), closed, tls }
}

/** Requests on `tls`, one at a time, answers read by Content-Length; `write: false` reads the next answer to a request already written. */
function requests(tls: TLSSocket): (path: string, write?: boolean) => Promise<Reply> {
  let buffered = ''
  let wake: (() => void) | undefined
  tls.on('data', (c: Buffer) => ((buffered += c.toString('latin1')), wake?.()))
  tls.on('close', () => wake?.())
  tls.on('error', () => undefined)
  const send = async (path: string, write = true): Promise<Reply> => {
    if (write) tls.write(request(path))
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n')
      const length = end < 0 ? undefined : Number(/\r\ncontent-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0)
      if (end >= 0 && length !== undefined && buffered.length >= end + 4 + length) {
        const reply = { status: Number(buffered.slice(9, 12)), head: buffered.slice(0, end), body: buffered.slice(end + 4, end + 4 + length) }
        buffered = buffered.slice(end + 4 + length)
        return reply
      }
      if (tls.destroyed) throw new Error(`tunnel closed before an answer to ${path}`)
      await new Promise<void>((r) => (wake = r))
    }
  }
  return send
}

const request = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`

/** Waits for a tunnel to close: a generous deadline, so a tunnel left open fails with its own message. */
async function closes(closed: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} stayed open`)), 30_000)))
  await Promise.race([closed, deadline]).finally(() => clearTimeout(timer))
}

const pem = (which: CaName): string => readFileSync(cas[which].caCert, 'utf8')

/** The answer on a tunnel a reload replacing the CA outdated: 421 with Connection: close and its JSON error; then the tunnel closes. */
async function expectCaOutdated(reply: Reply, closed: Promise<void>): Promise<void> {
  expect(reply.status).toBe(421)
  expect(reply.head).toMatch(/\r\nconnection: close/i)
  expect(JSON.parse(reply.body)).toEqual({ errors: [{ code: 421, msg: expect.stringContaining('a reload replaced the interception CA') }] })
  await closes(closed, 'the answered tunnel')
}

describe.each([
  { mode: 'one process', args: ['--workers', '1'], workers: 1 },
  { mode: '--workers 2', args: ['--workers', '2'], workers: 2 },
])('intercepted tunnels across a reload ($mode)', ({ args, workers }) => {
  let gp: GatewayProcess
  let dir: string
  let port: number

  beforeAll(async () => {
    dir = join(pki.dir, `gw-${workers}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'gateway.yaml'), yaml(dir))
    gp = await spawnGateway(join(dir, 'gateway.yaml'), args)
    port = Number(new URL(gp.url).port)
  }, 120_000)

  afterAll(async () => {
    await gp?.stop('SIGKILL')
  })

  /** Reloads so far: the file of reload n has n + 2 endpoints (spares added), one count per write. */
  let reloads = 0

  /**
   * Rewrites the file and signals a reload: resolves once every worker says it reloaded this file
   * (its endpoint count), whatever triggered it. Neither a line after the write nor its trigger says
   * so: one write and its SIGHUP can make two reloads (the directory watcher's, and the signal's, in
   * one process both said to be the signal's), the second's line out after the next write.
   */
  async function reload(s: Shape): Promise<void> {
    const from = gp.output.length
    const endpoints = ++reloads + 2
    replaceFile(join(dir, 'gateway.yaml'), yaml(dir, s, endpoints))
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded' && e.endpoints === endpoints).map((e) => e.pid)).size === workers, 30_000, 'every worker to reload').catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(gp.output.slice(from))}`)
    })
  }

  /** A tunnel with a request held at the backend: its release, and the reply it then gets. */
  async function busyTunnel(ca: string): Promise<{ t: Awaited<ReturnType<typeof tunnel>>; reply: () => Promise<Reply> }> {
    const t = await tunnel(port, ca)
    const before = held.length
    const answer = t.send('/hold')
    await eventually(() => held.length > before, 20_000, 'the backend to hold the request')
    return { t, reply: () => ((held.splice(0).forEach((release) => release())), answer) }
  }

  const linesOf = (reason: string): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request' && e.reason === reason)

  it('a reload that replaces the interception CA: idle tunnels close, the one in flight finishes, its next request is 421 with Connection: close; new tunnels get the new CA', async () => {
    await reload({})
    const idle = await tunnel(port, pem('old'))
    expect((await idle.send('/warm')).status).toBe(200)
    const busy = await busyTunnel(pem('old'))
    await reload({ ca: 'new' })
    await closes(idle.closed, 'the idle intercepted tunnel')
    const inFlight = await busy.reply()
    expect(inFlight.status).toBe(200)
    const next = await busy.t.send('/next')
    await expectCaOutdated(next, busy.t.closed)
    // The caller reconnects: a leaf of the new CA, which a caller trusting only the old one refuses.
    const fresh = await tunnel(port, pem('new'))
    expect((await fresh.send('/again')).status).toBe(200)
    fresh.tls.destroy()
    await expect(tlsOver((await connect(port)).raw, pem('old'))).rejects.toThrow(/certificate/i)
    await eventually(() => linesOf('tunnel_outdated').length === 1, 20_000, 'the 421 access line')
    expect(linesOf('tunnel_outdated')[0]).toMatchObject({ status: 421, mode: 'connect', method: 'GET' })
  })

  it('a reload to a CA not valid yet: the next request on an old tunnel gets the 503 a new CONNECT gets, not 421, with Connection: close', async () => {
    await reload({})
    const t = await tunnel(port, pem('old'))
    expect((await t.send('/warm')).status).toBe(200)
    const busy = await busyTunnel(pem('old'))
    await reload({ ca: 'future' })
    await closes(t.closed, 'the idle intercepted tunnel')
    expect((await busy.reply()).status).toBe(200)
    const next = await busy.t.send('/next')
    expect(next.status).toBe(503)
    expect(next.head).toMatch(/\r\nconnection: close/i)
    expect(JSON.parse(next.body)).toEqual({ errors: [{ code: 503, msg: expect.stringMatching(/^CONNECT to localhost:\d+ refused: TLS interception is unavailable: .*not valid (yet|before)/) }] })
    await closes(busy.t.closed, 'the answered tunnel')
    // What a new CONNECT gets under the same config: the same refusal.
    const raw = tcpConnect(port, '127.0.0.1')
    raw.on('error', () => undefined)
    await new Promise<void>((r) => raw.once('connect', () => r()))
    raw.write(`CONNECT ${authority()} HTTP/1.1\r\nHost: ${authority()}\r\n\r\n`)
    const head = await new Promise<string>((r) => raw.once('data', (c: Buffer) => r(c.toString('latin1'))))
    raw.destroy()
    expect(head).toMatch(/^HTTP\/1\.1 503 /)
    expect(head).toContain('TLS interception is unavailable')
  })

  it('a request pipelined behind another is in flight too: the reload waits for it, the request after it is 421', async () => {
    await reload({})
    const t = await tunnel(port, pem('old'))
    const before = held.length
    // Two requests in one write: the first answered at once, the second held at the backend.
    t.tls.write(request('/warm') + request('/hold'))
    expect((await t.send('/warm', false)).status).toBe(200)
    await eventually(() => held.length > before, 20_000, 'the backend to hold the pipelined request')
    await reload({ ca: 'new' })
    held.splice(0).forEach((release) => release())
    expect((await t.send('/hold', false)).status).toBe(200)
    expect((await t.send('/next')).status).toBe(421)
    await closes(t.closed, 'the answered tunnel')
  })

  it('a request pipelined behind one in flight at the reload is judged under the new config: the in-flight one finishes, the one behind it is 421 with Connection: close', async () => {
    await reload({})
    const t = await tunnel(port, pem('old'))
    const before = held.length
    // Both requests written before the reload; the first is held at the backend across it.
    t.tls.write(request('/hold') + request('/behind'))
    await eventually(() => held.length > before, 20_000, 'the backend to hold the first request')
    await reload({ ca: 'new' })
    held.splice(0).forEach((release) => release())
    expect((await t.send('/hold', false)).status).toBe(200)
    const behind = await t.send('/behind', false)
    await expectCaOutdated(behind, t.closed)
  })

  it('a request whose request line or headers were partly received at the reload is not lost, wherever they were cut: once complete it is answered 421 with Connection: close', async () => {
    const text = `GET /partly HTTP/1.1\r\nHost: ${authority()}\r\nX-Filler: ${'x'.repeat(40)}\r\n\r\n`
    // Any cut leaves a request begun and not complete: in the request line, a header, a CRLF, before the last LF.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: text.length - 1 }), async (cut) => {
        await reload({})
        const t = await tunnel(port, pem('old'))
        expect((await t.send('/warm')).status).toBe(200)
        // In the gateway's socket buffer before the signal is sent, so read before the reload is.
        await new Promise<void>((resolve) => t.tls.write(text.slice(0, cut), () => resolve()))
        await reload({ ca: 'new' })
        t.tls.write(text.slice(cut))
        await expectCaOutdated(await t.send('/partly', false), t.closed)
      }),
      { seed: 2877, numRuns: 6 },
    )
  }, 120_000)

  it('the next request on an outdated tunnel expecting 100-continue gets the 421 itself, never a 100, and its body is not waited for', async () => {
    await reload({})
    const busy = await busyTunnel(pem('old'))
    await reload({ ca: 'new' })
    expect((await busy.reply()).status).toBe(200)
    busy.t.tls.write(`POST /upload HTTP/1.1\r\nHost: ${authority()}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`)
    const next = await busy.t.send('/upload', false)
    expect(next.status).toBe(421)
    expect(next.head).toMatch(/\r\nconnection: close/i)
    expect(Number(/\r\ncontent-length: *(\d+)/i.exec(next.head)?.[1])).toBe(Buffer.byteLength(next.body))
    expect(JSON.parse(next.body)).toEqual({ errors: [{ code: 421, msg: expect.stringContaining('a reload replaced the interception CA') }] })
    await closes(busy.t.closed, 'the answered tunnel')
  })

  it('a reload that moves the host to passThrough: the in-flight request finishes, the next is 421 with Connection: close; a new CONNECT is a pass-through tunnel to the backend', async () => {
    await reload({})
    const idle = await tunnel(port, pem('old'))
    const busy = await busyTunnel(pem('old'))
    await reload({ host: 'passThrough' })
    await closes(idle.closed, 'the idle intercepted tunnel')
    expect((await busy.reply()).status).toBe(200)
    const next = await busy.t.send('/next')
    expect(next.status).toBe(421)
    expect(next.head).toMatch(/\r\nconnection: close/i)
    expect(JSON.parse(next.body).errors[0].msg).toContain('a pass-through host')
    await closes(busy.t.closed, 'the answered tunnel')
    // Untouched bytes: the backend's own certificate, issued by the test root, not a minted leaf.
    const through = await tlsOver((await connect(port)).raw, readFileSync(pki.file('root.crt'), 'utf8'), true)
    expect(through.authorized).toBe(true)
    through.destroy()
  })

  it.each([
    { change: "removes the host's endpoint", shape: { host: 'none' } as Shape, msg: "a reload removed this host's endpoints" },
    { change: 'turns interception off', shape: { interception: false } as Shape, msg: 'TLS interception is no longer configured' },
  ])('a reload that $change: the next request is the 403 a new CONNECT gets, with Connection: close', async ({ shape, msg }) => {
    await reload({})
    const busy = await busyTunnel(pem('old'))
    await reload(shape)
    expect((await busy.reply()).status).toBe(200)
    const next = await busy.t.send('/next')
    expect(next.status).toBe(403)
    expect(next.head).toMatch(/\r\nconnection: close/i)
    expect(JSON.parse(next.body).errors[0].msg).toContain(msg)
    await closes(busy.t.closed, 'the answered tunnel')
  })

  it('a pass-through tunnel whose host a reload intercepts closes at the reload, without waiting for its next byte', async () => {
    await reload({ host: 'passThrough' })
    const { raw, closed } = await connect(port)
    const through = await tlsOver(raw, readFileSync(pki.file('root.crt'), 'utf8'), true)
    // The backend answers through it (its TLS session tickets are through too): from here no byte flows until the reload.
    expect((await requests(through)('/through')).status).toBe(200)
    await reload({})
    await closes(closed, 'the pass-through tunnel')
    expect(through.destroyed || through.readableEnded).toBe(true)
  })

  it('a reload that changes none of it keeps an idle intercepted tunnel serving', async () => {
    await reload({})
    const t = await tunnel(port, pem('old'))
    expect((await t.send('/one')).status).toBe(200)
    await reload({ connectTimeout: '6s' })
    expect((await t.send('/two')).status).toBe(200)
    t.tls.destroy()
  })
})
