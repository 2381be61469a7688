// Runs INSIDE a loopback-only network namespace (test/proxy/protected-mode.test.ts starts it
// with `unshare --net`, `lo` up and 10.0.0.0/8 — plus fd00::/64 when IPv6 is there — routed as
// local, so a caller can take any of those source addresses without leaving the machine).
// Starts the compiled gateway on [::]:0 without a callers section, then with
// `callers: { required: false }`, sends a route-mode GET and a CONNECT from each generated
// source address, and prints one JSON line: what each got, and how many connections the
// endpoint's upstream (a TCP counter) saw from each.
import { createServer, connect } from 'node:net'
import { request } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'

const [distRoot, seed, runs, v6] = process.argv.slice(2)
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/gateway-root.js')).href)

let upstreamConnections = 0
const upstream = createServer((s) => (upstreamConnections++, s.destroy()))
await new Promise((r) => upstream.listen(0, '127.0.0.1', r))
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-protected-'))
const endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:${upstream.address().port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: { cert: ${process.env.PKI}/client.crt, key: ${process.env.PKI}/client.key, intermediates: ${process.env.PKI}/inter.crt, roots: ${process.env.PKI}/root.crt }\n`

const octet = fc.integer({ min: 0, max: 255 })
const address = fc.oneof(
  fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${Math.max(1, c)}`),
  fc.tuple(octet, octet, octet).map(([a, b, c]) => `10.${a}.${b}.${Math.max(1, c)}`),
  ...(v6 === '1' ? [fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([a, b]) => `fd00::${a.toString(16)}:${b.toString(16)}`)] : []),
  fc.constant('::1'),
)
const sources = fc.sample(address, { seed: Number(seed), numRuns: Number(runs) })

function get(port, localAddress) {
  return new Promise((resolve, reject) => {
    const family = localAddress.includes(':') ? 6 : 4
    const req = request({ host: family === 6 ? '::1' : '127.0.0.1', port, path: '/proxy/partner/x', localAddress, family, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
// A loopback destination address of the caller's family: a 10.x source reaches 127.0.0.1 through lo.
function connectTo(port, localAddress) {
  return new Promise((resolve, reject) => {
    const family = localAddress.includes(':') ? 6 : 4
    const s = connect({ host: family === 6 ? '::1' : '127.0.0.1', port, localAddress, family })
    let text = ''
    s.on('data', (c) => (text += c.toString()))
    s.on('error', reject)
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.split('\r\n\r\n')[1] ?? '' }))
    s.write(`CONNECT api.partner.test:${upstream.address().port} HTTP/1.1\r\nHost: api.partner.test\r\n\r\n`)
  })
}

/** One exchange on an open socket: the status line's code and the body (Content-Length framed). */
function exchange(s, text) {
  return new Promise((resolve) => {
    let got = ''
    const onData = (c) => {
      got += c.toString('latin1')
      const end = got.indexOf('\r\n\r\n')
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(got.slice(0, end))?.[1] ?? 0)
      if (end < 0 || got.length < end + 4 + length) return
      s.off('data', onData)
      resolve({ status: Number(got.slice(9, 12)), body: got.slice(end + 4, end + 4 + length) })
    }
    s.on('data', onData)
    s.write(text)
  })
}

// A caller on another machine (10.9.8.7) opens an intercepted tunnel with a bearer; a reload then
// removes the callers section (protected mode): the tunnel's next request is refused, as a fresh
// start's CONNECT from there is.
async function reloadedTunnel() {
  const { writeInterceptionCa } = await import(pathToFileURL(join(distRoot, 'src/tls/index.js')).href)
  const { createOps, createLog } = await import(pathToFileURL(join(distRoot, 'src/ops/index.js')).href)
  const { SignJWT } = await import('jose')
  const { connect: tlsConnect } = await import('node:tls')
  const ca = await writeInterceptionCa(join(dir, 'ica'))
  const secret = 'protected-mode-reload-secret-32-bytes!!'
  const file = join(dir, 'reloaded.yaml')
  const yaml = (callers) => `listen:\n  host: "0.0.0.0"\n  port: 0\nadmin:\n  enabled: false\n${callers}interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\n${endpoint}`
  writeFileSync(file, yaml(`callers:\n  apps: [{ clientId: bot, hs256Secret: "${secret}", audience: aud, endpoints: ["*"] }]\n`))
  const gw = await startGateway({ configFile: file, ops: createOps({ log: createLog({ level: 'fatal' }), admin: false, watch: false }) })
  const port = Number(new URL(gw.url).port)
  const jwt = await new SignJWT({ iss: 'bot', aud: 'aud', sub: 'u1' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  const authority = `api.partner.test:${upstream.address().port}`
  const connectFrom = async () => {
    const s = connect({ host: '127.0.0.1', port, localAddress: '10.9.8.7', family: 4 })
    await new Promise((r) => s.once('connect', r))
    return { s, connect: await exchange(s, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Bearer ${jwt}\r\n\r\n`) }
  }
  const outer = await connectFrom()
  const inner = tlsConnect({ socket: outer.s, servername: 'api.partner.test', rejectUnauthorized: false })
  await new Promise((r) => inner.once('secureConnect', r))
  const get = () => exchange(inner, `GET /x HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  const before = await get()
  writeFileSync(file, yaml(''))
  const reload = await gw.ops.reload('test')
  const after = await get()
  const fresh = await connectFrom()
  inner.destroy()
  fresh.s.destroy()
  await gw.close()
  return { connect: outer.connect.status, before, reload: reload.ok, after, fresh: fresh.connect, certificate: await certificateTunnel(yaml) }
}

// Protected mode admits another machine's caller whose certificate the listener verified: on
// CONNECT and on the tunnel's inner requests alike (the inner TLS has no caller certificate).
async function certificateTunnel(yaml) {
  const { connect: tlsConnect } = await import('node:tls')
  const { readFileSync } = await import('node:fs')
  const pki = process.env.PKI
  const file = join(dir, 'certificate.yaml')
  writeFileSync(file, yaml('').replace('  port: 0\n', `  port: 0\n  tls: { cert: ${pki}/server-chain.crt, key: ${pki}/server.key, clientCa: ${pki}/root.crt }\n`))
  const gw = await startGateway({ configFile: file })
  const authority = `api.partner.test:${upstream.address().port}`
  const outer = tlsConnect({ host: '127.0.0.1', port: Number(new URL(gw.url).port), localAddress: '10.9.8.6', family: 4, rejectUnauthorized: false, cert: readFileSync(`${pki}/client.crt`), key: readFileSync(`${pki}/client.key`), ca: readFileSync(`${pki}/inter.crt`) })
  await new Promise((r) => outer.once('secureConnect', r))
  const connected = await exchange(outer, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  const inner = tlsConnect({ socket: outer, servername: 'api.partner.test', rejectUnauthorized: false })
  await new Promise((r) => inner.once('secureConnect', r))
  const answer = await exchange(inner, `GET /x HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
  inner.destroy()
  await gw.close()
  return { connect: connected.status, inner: answer }
}

const out = {}
for (const [name, callers] of [['none', ''], ['openOnPurpose', 'callers:\n  required: false\n']]) {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `listen:\n  host: "::"\n  port: 0\nadmin:\n  enabled: false\n${callers}${endpoint}`)
  const gw = await startGateway({ configFile: file })
  const port = Number(new URL(gw.url).port)
  const results = []
  for (const source of sources) {
    const before = upstreamConnections
    const route = await get(port, source)
    const afterRoute = upstreamConnections
    const tunnel = await connectTo(port, source)
    results.push({ source, route, routeDials: afterRoute - before, tunnel })
  }
  await gw.close()
  out[name] = results
}
out.reloaded = await reloadedTunnel()
upstream.close()
// exit once the pipe took the whole line (a write to a pipe is asynchronous).
process.stdout.write(JSON.stringify(out) + '\n', () => {
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})
