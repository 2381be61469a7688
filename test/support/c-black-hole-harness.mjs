// Runs INSIDE a loopback-only network namespace (test/proxy/black-hole-dial.test.ts starts it with
// `unshare --net`, `lo` up and 10.9.9.0/24 routed out of one end of a veth pair to a permanent
// neighbour that does not exist): a SYN to 10.9.9.9 leaves and is never answered, a black hole
// that never leaves the machine. Starts the compiled gateway with 10.9.9.9:443 as a pass-through
// host (connectTimeout 1s), sends one CONNECT, and prints one JSON line: the answer, the access
// lines, and whether the dial was given up (no SYN_SENT socket left).
import { connect } from 'node:net'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [distRoot] = process.argv.slice(2)
const load = (path) => import(pathToFileURL(join(distRoot, path)).href)
const { startGateway } = await load('src/cli/gateway-root.js')
const { createLog, createOps } = await load('src/ops/index.js')
const { writeInterceptionCa } = await load('src/tls/index.js')

/** Sockets of this namespace dialling port 443 right now (state 02: SYN_SENT). */
const dialling = () =>
  readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f[2]?.endsWith(':01BB') && f[3] === '02').length
const until = async (check, ms) => {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-black-hole-'))
const ca = await writeInterceptionCa(join(dir, 'ica'))
const configFile = join(dir, 'gateway.yaml')
writeFileSync(configFile, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nstore: { kind: sqlite, file: ${join(dir, 'store.db')} }\n` +
  `interception:\n  caCert: ${ca.caCert}\n  caKey: ${ca.caKey}\n  passThrough:\n    - { host: 10.9.9.9, port: 443, allowPrivate: true, connectTimeout: 1s }\nendpoints: []\n`)
const lines = []
const log = createLog({ level: 'info', destination: { write: (s) => void lines.push(s) } })
const gw = await startGateway({ configFile, ops: createOps({ log, admin: false, watch: false }) })

const answer = await new Promise((resolve, reject) => {
  const s = connect(gw.port, '127.0.0.1', () => s.write('CONNECT 10.9.9.9:443 HTTP/1.1\r\nHost: 10.9.9.9:443\r\n\r\n'))
  let text = ''
  s.on('data', (c) => (text += c.toString('latin1')))
  s.on('error', reject)
  s.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0), body: text.split('\r\n\r\n')[1] ?? '' }))
})
const given = await until(() => dialling() === 0, 10_000)
await until(() => lines.length > 0, 10_000)
await gw.close()
const access = lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'request')
// exit once the pipe took the whole line (a write to a pipe is asynchronous).
process.stdout.write(JSON.stringify({ answer, access, givenUp: given }) + '\n', () => {
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})
