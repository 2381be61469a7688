// Runs INSIDE a loopback-only network namespace (test/proxy/protected-mode.test.ts starts it
// with `unshare --net`, `lo` up and 10.0.0.0/8 — plus fd00::/64 when IPv6 is there — routed as
// local, so a caller can take any of those source addresses without leaving the machine).
// Starts the compiled gateway on [::]:0 without a callers section, then with
// `callers: { required: false }`, sends a route-mode GET and a CONNECT from each generated
// source address, and prints one JSON line: what each got, and how many connections the
// endpoint's upstream (a TCP counter) saw from each.
import { createServer, connect } from 'node:net'
import { request } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'

const [distRoot, seed, runs, v6] = process.argv.slice(2)
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/serve.js')).href)

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
upstream.close()
// exit once the pipe took the whole line (a write to a pipe is asynchronous).
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
