// Runs INSIDE a loopback-only network namespace (test/support/netns.ts starts it with
// `unshare --net`): CONNECT targets come from generated input, so whatever the gateway might
// dial stays on this namespace's `lo`. Adds ::2 and ::100 to `lo`, then starts the compiled
// gateway with an intercepted endpoint at https://[::1]:9441 and a pass-through entry written
// `0:0:0:0:0:0:0:1` port 9442 (an echo server on [::1]:9442), and canaries (count and close)
// on the same ports of ::2, ::100 and 127.0.0.1 — the addresses a wrong normalisation might
// reach. JSON lines: {"target":"[…]:port"} → {"status":N,"echoed":bool}; {"stop":true} →
// {"echoConnections":N,"canaryHits":N} and exit. Plain ESM: it imports dist/.
import { execFileSync } from 'node:child_process'
import { createServer, connect } from 'node:net'
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [distRoot, dir, clientTlsYaml, caCert, caKey] = process.argv.slice(2)
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/gateway-root.js')).href)
for (const a of ['::2/128', '::100/128']) execFileSync('ip', ['-6', 'addr', 'add', a, 'dev', 'lo', 'nodad'])

let echoConnections = 0
let canaryHits = 0
const servers = []
const listen = (server, port, host) => new Promise((r, j) => server.once('error', j).listen(port, host, () => (servers.push(server), r())))
await listen(createServer((s) => (echoConnections++, s.pipe(s))), 9442, '::1')
for (const host of ['::2', '::100', '127.0.0.1']) for (const port of [9441, 9442]) await listen(createServer((s) => (canaryHits++, s.destroy())), port, host)

const configFile = join(dir, 'connect-ipv6.yaml')
writeFileSync(configFile, `admin: { enabled: false }
interception:
  caCert: ${caCert}
  caKey: ${caKey}
  passThrough: [{ host: "0:0:0:0:0:0:0:1", port: 9442, allowPrivate: true }]
endpoints:
  - name: loop
    url: https://[::1]:9441
    tls: ${clientTlsYaml}
`)
const gw = await startGateway({ configFile, listen: { host: '127.0.0.1', port: 9440 } })

/** One CONNECT; on a 200 to the pass-through port, one round trip through the echo. */
function tryConnect(target) {
  return new Promise((resolve) => {
    const s = connect(9440, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`))
    let text = ''
    let status = 0
    const done = (r) => (s.destroy(), resolve(r))
    s.on('error', () => done({ status, echoed: false }))
    s.on('end', () => done({ status, echoed: false }))
    s.on('data', (c) => {
      text += c.toString('latin1')
      if (status === 0) {
        const end = text.indexOf('\r\n\r\n')
        if (end < 0) return
        status = Number(text.slice(9, 12))
        text = text.slice(end + 4)
        if (status !== 200) return
        if (!target.endsWith(':9442')) return done({ status, echoed: false })
        s.write('ping')
      }
      if (status === 200 && text === 'ping') done({ status, echoed: true })
    })
  })
}

console.log(JSON.stringify({ ready: true }))
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line)
  if (msg.stop) {
    console.log(JSON.stringify({ echoConnections, canaryHits }))
    await gw.close()
    for (const s of servers) s.close()
    process.exit(0)
  }
  console.log(JSON.stringify(await tryConnect(msg.target)))
}
