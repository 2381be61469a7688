/**
 * Every access line names the caller's address (`clientAddress`, the TCP peer of its connection):
 * forward proxy, route mode, the gateway API, a refused CONNECT, a pass-through tunnel when it
 * closes, an intercepted tunnel's inner requests (the tunnel's peer), and a request the HTTP
 * parser refuses. Each request comes from a loopback address of its own, so a line that named any
 * other (or a constant) fails. The same with `--workers 2`, where each worker writes its own
 * connections' lines.
 */
import { request as httpRequest } from 'node:http'
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { finalEntries } from '../support/log-entries.js'
import { eventually } from './helpers.js'
import { callerBearer as bearer, echoPassThroughYaml, useInterceptionGateway } from './interception-gateway.js'

// Each gateway (in-process, --workers) gets a store file of its own.
const h = useInterceptionGateway({ yaml: () => echoPassThroughYaml(h) })

/** An HTTP request to the gateway from `from`: its status. */
function send(port: number, from: string, o: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, localAddress: from, agent: false, method: o.method ?? 'GET', path: o.path, headers: o.headers ?? {} }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.once('error', reject)
    req.end(o.body)
  })
}

/** A raw CONNECT from `from`: the socket, once the answer's status line is read. */
async function connectFrom(port: number, from: string, authority: string, token: string): Promise<{ socket: Socket; status: string }> {
  const socket = tcpConnect({ port, host: '127.0.0.1', localAddress: from })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Bearer ${token}\r\n\r\n`)
  const head = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))))
  return { socket, status: head.split('\r\n')[0] ?? '' }
}

const JUNK = 'NOT HTTP AT ALL\r\n\r\n'

/** Every kind of request, each from its own address; what each line must say. */
async function everyKind(port: number, base: number): Promise<{ from: string; expect: Record<string, unknown> }[]> {
  const token = await bearer()
  const at = (n: number): string => `127.0.0.${base + n}`
  const auth = { 'proxy-authorization': `Bearer ${token}` }
  const host = `api.partner.test:${h.upstream.port}`
  expect(await send(port, at(0), { path: `http://${host}/forward`, headers: { ...auth, host } })).toBe(200)
  expect(await send(port, at(1), { path: '/proxy/partner/route', headers: auth })).toBe(200)
  expect(await send(port, at(2), { method: 'POST', path: '/gateway/token', headers: { 'content-type': 'application/json' }, body: '{"assertion":"not-a-jwt"}' })).toBe(401)
  const refused = await connectFrom(port, at(3), 'unconfigured.test:443', token)
  expect(refused.status).toMatch(/^HTTP\/1\.1 403 /)
  refused.socket.destroy()
  const passThrough = await connectFrom(port, at(4), `127.0.0.1:${h.echoPort()}`, token)
  expect(passThrough.status).toMatch(/^HTTP\/1\.1 200 /)
  await new Promise<void>((resolve) => passThrough.socket.end(() => passThrough.socket.once('close', () => resolve())))
  const intercepted = await connectFrom(port, at(5), host, token)
  expect(intercepted.status).toMatch(/^HTTP\/1\.1 200 /)
  const tls = tlsConnect({ socket: intercepted.socket, servername: 'api.partner.test', ca: readFileSync(h.ca.caCert, 'utf8') })
  await new Promise<void>((resolve, reject) => tls.once('secureConnect', () => resolve()).once('error', reject))
  const inner = await new Promise<string>((resolve) => {
    let text = ''
    tls.on('data', (c: Buffer) => {
      text += c.toString()
      if (text.includes('\r\n\r\n')) resolve(text.split('\r\n')[0] ?? '')
    })
    tls.write(`GET /inner HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
  })
  expect(inner).toMatch(/^HTTP\/1\.1 200 /)
  tls.destroy()
  const junk = tcpConnect({ port, host: '127.0.0.1', localAddress: at(6) })
  const junkAnswer = await new Promise<string>((resolve, reject) => {
    let text = ''
    junk.on('data', (c: Buffer) => (text += c.toString('latin1'))).once('close', () => resolve(text)).once('error', reject)
    junk.once('connect', () => junk.write(JUNK))
  })
  expect(junkAnswer).toMatch(/^HTTP\/1\.1 400 /)
  return [
    { from: at(0), expect: { mode: 'forward', endpoint: 'partner', status: 200 } },
    { from: at(1), expect: { mode: 'route', endpoint: 'partner', status: 200 } },
    { from: at(2), expect: { mode: 'api', status: 401 } },
    { from: at(3), expect: { mode: 'connect', method: 'CONNECT', status: 403 } },
    { from: at(4), expect: { mode: 'connect', method: 'CONNECT', status: 200, passThrough: `127.0.0.1:${h.echoPort()}` } },
    { from: at(5), expect: { mode: 'connect', method: 'GET', endpoint: 'partner', status: 200 } },
    // Refused by the HTTP parser: the line has the bytes either way too.
    { from: at(6), expect: { mode: 'other', method: '-', status: 400, reason: 'bad_request', requestBytes: JUNK.length, responseBytes: Buffer.byteLength(junkAnswer, 'latin1') } },
  ]
}

/** Each expected line appears exactly once, with its own address and no other's. */
function checkLines(lines: () => Record<string, unknown>[], want: { from: string; expect: Record<string, unknown> }[]): void {
  for (const w of want) {
    const mine = lines().filter((e) => e.clientAddress === w.from)
    expect(mine, `${w.from}: ${JSON.stringify(lines())}`).toHaveLength(1)
    expect(mine[0]).toMatchObject(w.expect)
  }
}

describe('the access line names the caller\'s address', () => {
  it('forward, route, API, refused CONNECT, pass-through tunnel, an intercepted tunnel\'s inner request', async () => {
    const want = await everyKind(h.g.gw.port, 20)
    const lines = (): Record<string, unknown>[] => h.g.access()
    await eventually(() => want.every((w) => lines().some((e) => e.clientAddress === w.from)), 15_000, 'a line from each address')
    checkLines(lines, want)
    expect(lines().every((e) => typeof e.clientAddress === 'string'), JSON.stringify(lines())).toBe(true)
  })

  it('with --workers 2: each worker names its own connections\' callers', async () => {
    const gp = await h.spawnWorkers()
    const port = Number(new URL(gp.url).port)
    const want = [...(await everyKind(port, 40)), ...(await everyKind(port, 50))]
    const lines = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === 'request')
    await eventually(() => want.every((w) => lines().some((e) => e.clientAddress === w.from)), 30_000, 'a line from each address')
    // Once each: counted once every line is out (each worker writes its lines in batches).
    const final = (await finalEntries(gp)).filter((e) => e.msg === 'request')
    checkLines(() => final, want)
    // Fourteen connections, handed out in turn: both workers wrote some of these lines.
    expect(new Set(final.filter((e) => want.some((w) => w.from === e.clientAddress)).map((e) => e.pid)).size).toBe(2)
  }, 120_000)
})
