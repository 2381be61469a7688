// Runs INSIDE a loopback-only network namespace (test/support/netns.ts starts it with
// `unshare --net`): the addresses the gateway is made to dial come from generated input, and
// with no interface but `lo` a dial to any of them fails on this machine (unreachable) and
// never leaves it. Starts the compiled gateway with one endpoint, `probe`
// (https://probe.test:8443, no allowPrivate), whose name an injected resolver answers with
// the address the last message named. JSON lines: {"address":"…"} → one route-mode request,
// {"status":N,"msg":"…","lookups":N} (the error message, and the lookups of probe.test so far);
// {"stop":true} → {"lookups":N} and exit. Plain ESM: it imports dist/.
import { request } from 'node:http'
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [distRoot, dir, clientTlsYaml] = process.argv.slice(2)
const { startGateway } = await import(pathToFileURL(join(distRoot, 'src/cli/gateway-root.js')).href)

let answer = ''
let lookups = 0
const configFile = join(dir, 'egress.yaml')
writeFileSync(configFile, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(dir, 'egress.db')} }
endpoints:
  - name: probe
    url: https://probe.test:8443
    tls: ${clientTlsYaml}
`)
const resolve = (host, _options, callback) => {
  if (host !== 'probe.test') return callback(Object.assign(new Error(`no answer for ${host}`), { code: 'ENOTFOUND' }), [])
  lookups++
  callback(null, [{ address: answer, family: answer.includes(':') ? 6 : 4 }])
}
const gw = await startGateway({ configFile, listen: { host: '127.0.0.1', port: 0 }, resolve })

/** One request for the probe endpoint: its status and error message. */
function probe() {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/proxy/probe/x', agent: false }, (res) => {
      let text = ''
      res.on('data', (c) => (text += c))
      res.on('end', () => {
        let msg = ''
        try {
          msg = JSON.parse(text).errors?.[0]?.msg ?? ''
        } catch {
          msg = text
        }
        done({ status: res.statusCode ?? 0, msg, lookups })
      })
    })
    req.on('error', (e) => done({ status: 0, msg: String(e), lookups }))
    req.end()
  })
}

console.log(JSON.stringify({ ready: true }))
for await (const line of createInterface({ input: process.stdin })) {
  const message = JSON.parse(line)
  if (message.stop) {
    console.log(JSON.stringify({ lookups }))
    await gw.close()
    process.exit(0)
  }
  answer = message.address
  console.log(JSON.stringify(await probe()))
}
