/**
 * `npm run demo`: a throw-away PKI, a local partner backend that requires a client
 * certificate, the gateway in front of it with caller security, OAuth 1.0a signing, an
 * authorization field, CONNECT interception, metrics and JSON logs; real calls through
 * every way in, each printed with the curl line that does the same. Everything binds
 * 127.0.0.1 and stops at the end.
 */
import { request as httpsRequest } from 'node:https'
import { request } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { ProxyAgent, request as undiciRequest } from 'undici'
import { writeDevPki, writeInterceptionCa } from '../src/tls/index.js'
import { startGateway } from '../src/cli/gateway-root.js'
import { runCheck } from '../src/cli/check.js'
import { createLog, createOps } from '../src/ops/index.js'
import { CONSUMER, STATIC_TOKEN, startDemoPartner } from './demo-provider.js'

const out = (s = ''): void => void process.stdout.write(s + '\n')
const HS256_SECRET = randomBytes(32).toString('base64url')

function call(gatewayUrl: string, target: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  const gw = new URL(gatewayUrl)
  return new Promise((resolve, reject) => {
    const req = request({ host: gw.hostname, port: gw.port, path: target, method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(o.body)
  })
}

/** A minimal browser: follows redirects across the gateway and the partner, clicks the gateway page's button; returns the hops. */
async function browse(start: string, rootCert: string, partnerPort: number): Promise<string[]> {
  const hops: string[] = []
  // The gateway's cookies, kept as a browser keeps them: the link page's click binds the dance to this browser.
  const jar = new Map<string, { value: string; path: string }>()
  let url = start
  let form: string | undefined
  for (let i = 0; i < 8 && url; i++) {
    const u = new URL(url)
    const method = form === undefined ? 'GET' : 'POST'
    const r = await new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
      const cookie = u.protocol === 'http:' ? [...jar].filter(([, c]) => u.pathname.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`).join('; ') : ''
      const headers = { ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) }), ...(cookie !== '' ? { cookie } : {}) }
      const opts = { host: '127.0.0.1', port: u.port, path: u.pathname + u.search, method, headers, agent: false }
      const done = (res: import('node:http').IncomingMessage): void => {
        for (const line of u.protocol === 'http:' ? (res.headers['set-cookie'] ?? []) : []) {
          const [pair = '', ...attrs] = line.split(';').map((a) => a.trim())
          const name = pair.slice(0, pair.indexOf('='))
          if (attrs.some((a) => a.toLowerCase() === 'max-age=0')) jar.delete(name)
          else jar.set(name, { value: pair.slice(pair.indexOf('=') + 1), path: attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/' })
        }
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), body }))
      }
      const req = u.protocol === 'https:' ? httpsRequest({ ...opts, port: partnerPort, servername: u.hostname, ca: readFileSync(rootCert) }, done) : request(opts, done)
      req.on('error', reject).end(form)
    })
    const title = /<title>([^<]*)<\/title>/i.exec(r.body)?.[1]
    hops.push(`${method} ${u.origin}${u.pathname} → ${r.status}${r.location ? ` → ${new URL(r.location, url).origin}${new URL(r.location, url).pathname}` : ''}${title ? ` "${title}"` : ''}`)
    // The gateway's link page: opening it uses nothing; the user's click POSTs its form (with its CSRF token).
    const csrf = /name="csrf" value="([^"]+)"/.exec(r.body)?.[1]
    const action = /<form method="post" action="([^"]+)"/.exec(r.body)?.[1]
    form = u.protocol === 'http:' && csrf !== undefined && action !== undefined ? new URLSearchParams({ csrf }).toString() : undefined
    url = form !== undefined && action !== undefined ? new URL(action.replaceAll('&amp;', '&'), url).href : r.location ? new URL(r.location, url).href : ''
  }
  return hops
}

function directWithoutCertificate(rootCert: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'api.partner.test', ca: readFileSync(rootCert), agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(`${res.statusCode ?? 0} ${body}`))
    })
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code ?? e.message}`))
    req.end()
  })
}

function configYaml(port: number, dir: string): string {
  return `listen: { host: 127.0.0.1, port: 0 }
store: { kind: sqlite, file: ${join(dir, 'gateway.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
callers:
  apps:
    - { clientId: bot-runtime, hs256Secret: "${HS256_SECRET}", audience: "https://gateway.demo", endpoints: ["*"] }
interception: { caCert: ica/interception-ca.crt, caKey: ica/interception-ca.key }
profiles:
  - name: partner-oauth
    provider: Partner IdP
    consumerKey: ${CONSUMER.key}
    consumerSecret: \${env:DEMO_CONSUMER_SECRET}
    signatureMethod: HMAC-SHA1
    token: { mode: static, token: ${STATIC_TOKEN.token}, tokenSecret: ${STATIC_TOKEN.secret} }
    fields: [{ type: header, key: X-Partner-Key, value: "pk-{{user}}" }]
  - name: partner-user
    consumerKey: ${CONSUMER.key}
    consumerSecret: \${env:DEMO_CONSUMER_SECRET}
    token: { mode: per_user }
    requestTokenUrl: https://api.partner.test:${port}/oauth/request_token
    authorizeUrl: https://api.partner.test:${port}/oauth/authorize
    accessTokenUrl: https://api.partner.test:${port}/oauth/access_token
endpoints:
  - name: partner
    url: https://api.partner.test:${port}
    resolve: 127.0.0.1          # like curl --resolve: SNI and verification still use the name
    allowPrivate: true          # loopback is refused by the egress policy unless allowed
    profile: partner-oauth
    tls: &bundle
      cert: pki/client.crt
      key: pki/client.key
      intermediates: pki/intermediate-ca.crt
      roots: pki/root-ca.crt
  - name: partner-user
    url: https://api.partner.test:${port}
    hosts: [user.partner.test]  # forward-proxy name of this endpoint; route mode uses /proxy/partner-user/
    resolve: 127.0.0.1
    allowPrivate: true
    profile: partner-user
    tls: *bundle
`
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-gateway-demo-'))
  try {
    out('== 1. A throw-away PKI and an interception CA (mtls-gateway pki; mtls-gateway pki interception-ca)')
    const pki = await writeDevPki({ dir: join(dir, 'pki') })
    const ica = await writeInterceptionCa(join(dir, 'ica'))
    out(`   ${join(dir, 'pki')}, ${join(dir, 'ica')}`)

    const backend = await startDemoPartner(pki)
    const port = (backend.address() as AddressInfo).port
    out(`\n== 2. A partner backend on https://127.0.0.1:${port} that REQUIRES a client certificate (and plays the OAuth 1.0a provider)`)
    out(`   $ curl --cacert ${pki.rootCert} --resolve api.partner.test:${port}:127.0.0.1 https://api.partner.test:${port}/`)
    out(`   → ${await directWithoutCertificate(pki.rootCert, port)}`)

    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(configFile, configYaml(port, dir))
    process.env.DEMO_CONSUMER_SECRET = CONSUMER.secret
    out(`\n== 3. mtls-gateway check --config ${configFile}`)
    out(runCheck(configFile).output.trimEnd().replace(/^/gm, '   '))

    const logLines: string[] = []
    const log = createLog({ destination: new Writable({ write: (c: Buffer, _e, cb) => void (logLines.push(c.toString()), cb()) }) })
    const gw = await startGateway({ configFile, ops: createOps({ log, admin: { host: '127.0.0.1', port: 0 } }) })
    const admin = gw.ops?.adminUrl ?? ''
    out(`\n== 4. The gateway on ${gw.url} (admin ${admin})`)

    const noCreds = await call(gw.url, `http://api.partner.test:${port}/v1/accounts`)
    out(`\n   without caller credentials\n   $ curl -x ${gw.url} http://api.partner.test:${port}/v1/accounts\n   → ${noCreds.status} ${noCreds.body}`)

    const now = Math.floor(Date.now() / 1000)
    const jwt = await new SignJWT({ iss: 'bot-runtime', aud: 'https://gateway.demo', sub: 'alice', iat: now, exp: now + 300, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(HS256_SECRET))
    const tokenReply = await call(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: jwt }) })
    const token = (JSON.parse(tokenReply.body) as { access_token: string }).access_token
    out(`\n   exchange the caller app's JWT (sub "alice") for a bearer token\n   $ curl -X POST ${gw.url}/gateway/token -H 'content-type: application/json' -d '{"assertion":"<JWT>"}'\n   → ${tokenReply.status} ${tokenReply.body.replace(token, token.slice(0, 8) + '…')}`)

    const auth = { 'proxy-authorization': `Bearer ${token}` }
    const calls: { title: string; target: string; curl: string }[] = [
      { title: 'forward proxy (HTTP_PROXY, absolute-form): mTLS + OAuth 1.0a signature + X-Partner-Key field', target: `http://api.partner.test:${port}/v1/accounts?limit=2`, curl: `curl -x ${gw.url} --proxy-header "Proxy-Authorization: Bearer $TOKEN" 'http://api.partner.test:${port}/v1/accounts?limit=2'` },
      { title: 'route mode (/proxy/<endpoint>/<path>)', target: '/proxy/partner/v1/accounts', curl: `curl -H "Proxy-Authorization: Bearer $TOKEN" ${gw.url}/proxy/partner/v1/accounts` },
      { title: 'an unconfigured host (never an open proxy)', target: 'http://example.com/', curl: `curl -x ${gw.url} --proxy-header "Proxy-Authorization: Bearer $TOKEN" http://example.com/` },
    ]
    for (const c of calls) {
      const r = await call(gw.url, c.target, { headers: auth })
      out(`\n   ${c.title}\n   $ ${c.curl}\n   → ${r.status} ${r.body}`)
    }

    const agent = new ProxyAgent({ uri: gw.url, token: `Bearer ${token}`, requestTls: { ca: readFileSync(ica.caCert, 'utf8') } })
    const viaConnect = await undiciRequest(`https://api.partner.test:${port}/v1/statements`, { dispatcher: agent })
    out(`\n   HTTPS_PROXY (CONNECT, TLS intercepted with a leaf minted by the interception CA)`)
    out(`   $ curl -x ${gw.url} --proxy-header "Proxy-Authorization: Bearer $TOKEN" --cacert ${ica.caCert} https://api.partner.test:${port}/v1/statements`)
    out(`   → ${viaConnect.statusCode} ${await viaConnect.body.text()}`)
    await agent.close()

    out(`\n   the three-legged dance for alice (per-user OAuth tokens)`)
    const first = await call(gw.url, '/proxy/partner-user/v1/me', { headers: auth })
    out(`   $ curl -H "Proxy-Authorization: Bearer $TOKEN" ${gw.url}/proxy/partner-user/v1/me\n   → ${first.status} ${first.body}`)
    const link = (JSON.parse(first.body) as { errors: { authorizeUrl?: string }[] }).errors[0]?.authorizeUrl ?? ''
    out(`   alice opens authorizeUrl in her browser:`)
    for (const hop of await browse(link, pki.rootCert, port)) out(`     ${hop}`)
    const second = await call(gw.url, '/proxy/partner-user/v1/me', { headers: auth })
    out(`   $ curl -H "Proxy-Authorization: Bearer $TOKEN" ${gw.url}/proxy/partner-user/v1/me\n   → ${second.status} ${second.body}`)

    const metrics = await fetch(`${admin}/metrics`).then((r) => r.text())
    out(`\n== 5. Prometheus metrics ($ curl ${admin}/metrics), a few lines:`)
    for (const line of metrics.split('\n').filter((l) => /^mtls_gateway_(requests_total|oauth_signatures_total|caller_auth_failures_total|connect_tunnels_total)\{/.test(l))) out(`   ${line}`)
    const access = logLines.find((l) => l.includes('"endpoint":"partner"') && l.includes('"status":200'))
    out(`\n== 6. One JSON access-log line (secrets redacted):\n   ${access?.trim() ?? '(none)'}`)

    await gw.close()
    await new Promise<void>((r) => backend.close(() => r()))
    out('\n== done: the PKI, backend, store and gateway were temporary and are gone.')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
