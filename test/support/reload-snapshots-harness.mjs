// Started by test/ops/reload-snapshots-collectable.test.ts with --expose-gc: starts the compiled
// gateway from the config file given (its text has a __N__ that each reload fills differently),
// sends one proxied request (and, with PROBE_CONNECT, one intercepted CONNECT request) per
// snapshot, reloads N times, collects garbage, and prints one JSON line: which replaced
// snapshots are still reachable ("0" per collected one, in reload order), how many upstream
// connections are still open, and the statuses seen. ADMIN=1 starts the admin listener too.
import { request } from 'node:http'
import { connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [distRoot, configFile, reloadsText] = process.argv.slice(2)
const load = (path) => import(pathToFileURL(join(distRoot, path)).href)
const { startGateway } = await load('src/cli/gateway-root.js')
const { createLog, createOps } = await load('src/ops/index.js')
const base = readFileSync(configFile, 'utf8')
writeFileSync(configFile, base.replace('__N__', '900'))
const log = createLog({ level: 'info', destination: { write: () => undefined } })
const gw = await startGateway({ configFile, ops: createOps({ log, admin: process.env.ADMIN ? { host: '127.0.0.1', port: 0 } : false, watch: false }) })
const send = (path) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: gw.port, path, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)) })
  req.on('error', reject).end()
})
// A CONNECT tunnel to `authority`, a TLS handshake on it, one GET: the status.
const tunnelled = (authority) => new Promise((resolve, reject) => {
  const raw = connect(gw.port, '127.0.0.1', () => raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`))
  raw.once('error', reject)
  raw.once('data', (head) => {
    if (!head.toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(head.toString('latin1')))
    const s = tlsConnect({ socket: raw, servername: authority.split(':')[0], rejectUnauthorized: false }, () => s.write(`GET /x HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`))
    let text = ''
    s.on('data', (c) => (text += c.toString('latin1')))
    s.on('error', reject)
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
  })
})
const refs = []
const statuses = []
for (let i = 0; i < Number(reloadsText); i++) {
  statuses.push(await send(process.env.PROBE_PATH))
  if (process.env.PROBE_CONNECT) statuses.push(await tunnelled(process.env.PROBE_CONNECT))
  refs.push(new WeakRef(gw.ref.current))
  writeFileSync(configFile, base.replace('__N__', String(1000 + i)))
  const r = await gw.ops.reload('test')
  if (!r.ok) throw new Error(JSON.stringify(r))
}
statuses.push(await send(process.env.PROBE_PATH))
// Retiring is asynchronous (a replaced snapshot closes once its requests are done): collect until
// every replaced snapshot is gone, or give up after 15 s and report what is left.
const left = () => refs.map((r) => (r.deref() === undefined ? 0 : 1)).join('')
for (const end = Date.now() + 15_000; left().includes('1') && Date.now() < end; ) {
  await new Promise((r) => setTimeout(r, 50))
  globalThis.gc()
}
// Which ones are still reachable, in reload order ("1000…": the start's snapshot).
const alive = left()
// Connections established to the upstream's port (remote side in /proc/net/tcp; undici unrefs idle sockets, so handles do not show them).
const upstreamPort = Number(process.env.UPSTREAM_PORT).toString(16).toUpperCase().padStart(4, '0')
const sockets = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[2]?.endsWith(`:${upstreamPort}`) && f[3] === '01').length
await gw.close()
process.stdout.write(JSON.stringify({ alive, sockets, statuses: [...new Set(statuses)] }) + '\n', () => process.exit(0))
