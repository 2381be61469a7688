/**
 * `npm run demo`: a throw-away PKI, a local backend that requires a client certificate,
 * the gateway in front of it, real calls through both ways in, results printed with the
 * curl line that does the same. Everything binds 127.0.0.1 and stops at the end.
 */
import { createServer, request as httpsRequest, type Server } from 'node:https'
import { request } from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { writeDevPki } from '../src/tls/index.js'
import { startGateway } from '../src/cli/serve.js'
import { runCheck } from '../src/cli/check.js'

const out = (s = ''): void => void process.stdout.write(s + '\n')

function startBackend(files: { serverCert: string; serverKey: string; rootCert: string }): Promise<Server> {
  const server = createServer(
    { cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey), ca: readFileSync(files.rootCert), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate()
      const body = JSON.stringify({ backend: 'partner-api', path: req.url, clientCertificate: peer.subject?.CN ?? null, clientIssuer: peer.issuer?.CN ?? null })
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    },
  )
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function call(gatewayUrl: string, target: string): Promise<{ status: number; body: string }> {
  const gw = new URL(gatewayUrl)
  return new Promise((resolve, reject) => {
    request({ host: gw.hostname, port: gw.port, path: target, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject).end()
  })
}

function directWithoutCertificate(rootCert: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'api.partner.test', ca: readFileSync(rootCert), agent: false }, (res) => {
      res.resume()
      resolve(`HTTP ${res.statusCode ?? 0} (unexpected: the backend should have refused)`)
    })
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code ?? e.message}`))
    req.end()
  })
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-gateway-demo-'))
  try {
    out('== 1. A throw-away PKI (mtls-gateway pki --dir …)')
    const pki = await writeDevPki({ dir: join(dir, 'pki') })
    out(`   root, intermediate, server and client certificates in ${join(dir, 'pki')}`)

    const backend = await startBackend(pki)
    const port = (backend.address() as AddressInfo).port
    out(`\n== 2. A partner backend on https://127.0.0.1:${port} that REQUIRES a client certificate`)
    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(
      configFile,
      `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
endpoints:
  - name: partner
    url: https://api.partner.test:${port}
    resolve: 127.0.0.1          # like curl --resolve: SNI and verification still use the name
    allowPrivate: true
    tls:
      cert: pki/client.crt
      key: pki/client.key
      intermediates: pki/intermediate-ca.crt
      roots: pki/root-ca.crt
`,
    )
    out(`\n== 3. mtls-gateway check --config ${configFile}`)
    out(runCheck(configFile).output.trimEnd().replace(/^/gm, '   '))

    const gw = await startGateway({ configFile })
    out(`\n== 4. The gateway on ${gw.url}`)
    const calls: { title: string; target: string; curl: string }[] = [
      { title: 'forward proxy (HTTP_PROXY, absolute-form)', target: `http://api.partner.test:${port}/v1/accounts`, curl: `curl -x ${gw.url} http://api.partner.test:${port}/v1/accounts` },
      { title: 'route mode (/proxy/<endpoint>/<path>)', target: '/proxy/partner/v1/accounts', curl: `curl ${gw.url}/proxy/partner/v1/accounts` },
      { title: 'an unconfigured host (never an open proxy)', target: 'http://example.com/', curl: `curl -x ${gw.url} http://example.com/` },
    ]
    for (const c of calls) {
      const r = await call(gw.url, c.target)
      out(`\n   ${c.title}\n   $ ${c.curl}\n   → ${r.status} ${r.body}`)
    }
    out(`\n   For comparison, a direct call without a client certificate is refused by the backend:`)
    out(`   $ curl --cacert ${pki.rootCert} --resolve api.partner.test:${port}:127.0.0.1 https://api.partner.test:${port}/`)
    out(`   → ${await directWithoutCertificate(pki.rootCert, port)}`)
    await gw.close()
    await new Promise<void>((r) => backend.close(() => r()))
    out('\n== done: the PKI, backend and gateway were temporary and are gone.')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
