// Runs INSIDE a loopback-only network namespace (test/support/netns.ts starts it with
// `unshare --net`): CONNECT targets come from generated input, so whatever the gateway might
// dial stays on this namespace's `lo`. Starts the compiled gateway with two intercepted
// endpoints on port 9441, `api.partner.test` and `other.partner.test.` (written with its dot),
// both resolving to 127.0.0.1, where a canary counts any connection (a CONNECT alone dials
// nothing). JSON lines: {"target":"host:port"} → {"status":N,"san":"DNS:…"|null} (san: the leaf
// the tunnel presents, read without verifying); {"stop":true} → {"canaryHits":N} and exit.
import { createServer, connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [distRoot, dir, clientTlsYaml, caCert, caKey] = process.argv.slice(2)
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/gateway-root.js')).href)

let canaryHits = 0
const canary = createServer((s) => (canaryHits++, s.destroy()))
await new Promise((r, j) => canary.once('error', j).listen(9441, '127.0.0.1', r))

const endpoint = (name, host) => `  - name: ${name}\n    url: https://${host}:9441\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml}\n`
const configFile = join(dir, 'connect-trailing-dot.yaml')
writeFileSync(configFile, `admin: { enabled: false }\ninterception: { caCert: ${caCert}, caKey: ${caKey} }\nendpoints:\n${endpoint('partner', 'api.partner.test')}${endpoint('other', 'other.partner.test.')}`)
const gw = await startGateway({ configFile, listen: { host: '127.0.0.1', port: 9440 } })

/** One CONNECT; on a 200, a TLS handshake inside the tunnel for the leaf's subjectAltName. */
function tryConnect(target) {
  return new Promise((resolve) => {
    const s = connect(9440, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`))
    let head = ''
    const done = (r) => (s.destroy(), resolve(r))
    s.on('error', () => done({ status: 0, san: null }))
    const onData = (c) => {
      head += c.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      s.off('data', onData)
      const status = Number(head.slice(9, 12))
      if (status !== 200) return done({ status, san: null })
      const tls = tlsConnect({ socket: s, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      tls.once('secureConnect', () => (resolve({ status, san: tls.getPeerCertificate().subjectaltname ?? null }), tls.destroy()))
      tls.once('error', () => done({ status, san: null }))
    }
    s.on('data', onData)
  })
}

console.log(JSON.stringify({ ready: true }))
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line)
  if (msg.stop) {
    console.log(JSON.stringify({ canaryHits }))
    await gw.close()
    canary.close()
    process.exit(0)
  }
  console.log(JSON.stringify(await tryConnect(msg.target)))
}
