// Runs INSIDE a loopback-only network namespace (test/support/netns.ts starts it with
// `unshare --net`): the compiled gateway, the recording upstreams, and canary listeners on
// every loopback address a generated request target may name. Driven over stdin/stdout
// with JSON lines: {"cases":[…]} in, {"results":[…],"canaryHits":N,"strayArrivals":[…]} out.
// Plain ESM JavaScript because plain node cannot load .ts on Node 20; it imports dist/.
import { request as httpRequest, Agent } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createTcpServer, connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { createHmac } from 'node:crypto'

const [specFile, distRoot] = process.argv.slice(2)
const spec = JSON.parse(readFileSync(specFile, 'utf8'))
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/gateway-root.js')).href)

const arrivals = new Map() // case id → [{ upstream, url, host, subject, field }]
const stray = [] // arrivals at an upstream no generated request may reach
let canaryHits = 0
const closers = []

/** An HS256 caller JWT (no jti, so usable as the bearer) carrying a case's claims; JSON keeps lone surrogates as \\uXXXX. */
function callerJwt(claims = {}) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: spec.caller.clientId, aud: spec.caller.audience, sub: 'user-1', iat: now, exp: now + 3600, ...claims })}`
  return `${input}.${createHmac('sha256', spec.caller.secret).update(input).digest('base64url')}`
}

/** A header as the upstream's parser read it (latin1), by name; null when absent. */
function rawHeader(req, name) {
  const i = req.rawHeaders.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === name)
  return i < 0 ? null : req.rawHeaders[i + 1]
}

function record(upstream, req) {
  const subject = req.socket.getPeerCertificate()?.subject?.CN ?? null
  const entry = { upstream, url: req.url, host: req.headers.host ?? null, subject, field: req.headers['x-partner-key'] ?? null, acctHeader: rawHeader(req, 'x-acct') }
  const id = req.headers['x-case-id']
  if (spec.upstreams.find((u) => u.name === upstream)?.canary || typeof id !== 'string') stray.push({ ...entry, id: id ?? null })
  else arrivals.set(id, [...(arrivals.get(id) ?? []), entry])
}

for (const u of spec.upstreams) {
  const server = createHttpsServer(
    { cert: readFileSync(u.cert), key: readFileSync(u.key), ca: readFileSync(u.ca), requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 30_000 },
    (req, res) => {
      record(u.name, req)
      req.resume()
      req.on('end', () => res.end('ok'))
    },
  )
  await new Promise((r) => server.listen(u.port, u.host, r))
  closers.push(() => server.close())
}
for (const c of spec.canaries) {
  const server = createTcpServer((s) => {
    canaryHits++
    s.destroy()
  })
  await new Promise((r) => server.listen(c.port, c.host, r))
  closers.push(() => server.close())
}

const gw = await startGateway({ configFile: spec.configFile, listen: { host: '127.0.0.1', port: spec.gatewayPort } })
const interceptionCa = readFileSync(spec.interceptionCa)

/** An agent whose connections are CONNECT tunnels through the gateway, TLS inside (minted leaf). */
class TunnelAgent extends Agent {
  createConnection(_options, callback) {
    let settled = false
    const done = (err, socket) => {
      if (settled) return
      settled = true
      callback(err, socket)
    }
    const raw = netConnect(spec.gatewayPort, '127.0.0.1')
    raw.once('error', (e) => done(e))
    raw.once('connect', () => raw.write(`CONNECT ${spec.tunnelAuthority} HTTP/1.1\r\nHost: ${spec.tunnelAuthority}\r\nProxy-Authorization: Bearer ${callerJwt()}\r\n\r\n`))
    let head = ''
    const onData = (chunk) => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      raw.off('data', onData)
      if (!head.startsWith('HTTP/1.1 200')) return done(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`))
      const tls = tlsConnect({ socket: raw, servername: spec.tunnelAuthority.split(':')[0], ca: interceptionCa })
      tls.once('secureConnect', () => done(null, tls))
      tls.once('error', (e) => done(e))
    }
    raw.on('data', onData)
  }
}

const plainAgent = new Agent({ keepAlive: true, maxSockets: 8 })
const tunnelAgent = new TunnelAgent({ keepAlive: true, maxSockets: 4 })

function send(c) {
  const tunnel = c.way.startsWith('connect')
  const [host, port] = tunnel ? spec.tunnelAuthority.split(':') : ['127.0.0.1', String(spec.gatewayPort)]
  return new Promise((resolve) => {
    let req
    try {
      req = httpRequest(
        { host, port: Number(port), path: c.target, method: 'GET', agent: tunnel ? tunnelAgent : plainAgent, headers: { 'x-case-id': c.id, ...(tunnel ? { host: spec.tunnelAuthority } : { 'proxy-authorization': `Bearer ${callerJwt(c.claims)}` }) }, timeout: 20_000 },
        (res) => {
          const chunks = []
          res.on('data', (d) => chunks.push(d))
          res.on('end', () => resolve({ id: c.id, status: res.statusCode, contentType: res.headers['content-type'] ?? null, contentLength: res.headers['content-length'] ?? null, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', (e) => resolve({ id: c.id, status: 0, error: String(e) }))
        },
      )
    } catch (e) {
      resolve({ id: c.id, status: -1, error: String(e) }) // the client itself refused to send it
      return
    }
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ id: c.id, status: 0, error: String(e) }))
    req.end()
  })
}

async function runBatch(cases) {
  const results = []
  let next = 0
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]
      const r = await send(c)
      results.push({ ...r, arrivals: arrivals.get(c.id) ?? [] })
      arrivals.delete(c.id)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  return results
}

const lines = createInterface({ input: process.stdin })
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
for await (const line of lines) {
  const msg = JSON.parse(line)
  if (msg.stop) break
  const results = await runBatch(msg.cases)
  process.stdout.write(JSON.stringify({ results, canaryHits, strayArrivals: stray }) + '\n')
}
plainAgent.destroy()
tunnelAgent.destroy()
await gw.close()
for (const close of closers) close()
process.exit(0)
