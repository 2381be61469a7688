/**
 * The endpoint connection test (`mtls-gateway test-endpoint`, the console's Test connection)
 * against servers nobody here wrote: nginx with `ssl_verify_client on` (which refuses a client
 * certificate with an HTTP 400 page after the handshake) and HAProxy with `verify required`
 * (which aborts the handshake with a TLS alert). Each failure is reported at the step of the
 * mutual-TLS exchange it belongs to, in a request's 502 words: a client certificate the server
 * refuses (both ways), a server certificate the endpoint's roots do not anchor, a name it does not
 * carry, nothing listening, the gateway's own client certificate expired. The CLI prints the same
 * report and exits 0 or 1. Nothing is pooled: the endpoint's pool stays empty.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import { testEndpointConnection, type ConnectionTestReport } from '../../src/proxy/connection-test.js'
import { scrubbedJson } from '../../src/console/scrub.js'
import { configSecretValues } from '../../src/ops/index.js'
import { endpointYaml } from '../support/gateway.js'
import { refusingPort, startHaproxy, startNginx, verifyingNginxServer, type Peer } from '../support/peers.js'
import { clientTls, createTestPki, verifyingFiles, type TestPki } from '../support/pki.js'

const run = promisify(execFile)
/** In the secret-path endpoint's URL: a space and a non-ASCII letter, so the URL holds it percent-encoded. */
const PATH_SECRET = 'path-secret 4f9a-é'

let pki: TestPki
let other: TestPki
let nginx: Peer
let haproxy: Peer
let config: string
let gateway: Gateway

beforeAll(async () => {
  pki = await createTestPki()
  other = await createTestPki()
  nginx = await startNginx({
    server: verifyingNginxServer(verifyingFiles(pki), 2, `    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 204; }`),
  })
  haproxy = await startHaproxy({ crtPem: readFileSync(pki.file('server-chain.crt'), 'utf8') + readFileSync(pki.file('server.key'), 'utf8'), caFile: pki.file('root.crt') })
  const expired = pki.writePair('expired', await pki.issue({ subject: 'CN=expired-client', issuer: pki.inter, usages: ['clientAuth'], notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }))
  const good = clientTls(pki)
  // A client certificate the servers' client CA did not issue (the bundle itself is whole: its own CA checks it).
  const foreign = { cert: other.file('client.crt'), key: other.file('client.key'), intermediates: other.file('inter.crt'), clientRoots: other.file('root.crt'), roots: pki.file('root.crt') }
  const refused = await refusingPort()
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:
${endpointYaml('nginx', nginx.port, good)}${endpointYaml('nginx-foreign', nginx.port, foreign)}${endpointYaml('haproxy', haproxy.port, good)}${endpointYaml('haproxy-foreign', haproxy.port, foreign)}\
${endpointYaml('untrusted', nginx.port, { ...good, roots: other.file('root.crt'), clientRoots: pki.file('root.crt') })}${endpointYaml('misnamed', nginx.port, { ...good, serverName: 'elsewhere.partner.test' })}\
${endpointYaml('nothing', refused, good)}${endpointYaml('expired', nginx.port, { ...good, cert: expired.cert, key: expired.key })}\
  - name: tenanted
    url: https://{tenant}.partner.test:${nginx.port}/t
    resolve: 127.0.0.1
    allowPrivate: true
    tls: { serverName: api.partner.test, cert: ${good.cert}, key: ${good.key}, intermediates: ${good.intermediates}, roots: ${good.roots} }
    tenants:
      globex: { tls: { serverName: api.partner.test, cert: ${foreign.cert}, key: ${foreign.key}, intermediates: ${foreign.intermediates}, clientRoots: ${foreign.clientRoots}, roots: ${foreign.roots} } }
  - { name: secret-path, url: "https://api.partner.test:${nginx.port}/v1/\${env:MTLSGW_PATH_SECRET}", resolve: 127.0.0.1, allowPrivate: true, tls: { cert: ${good.cert}, key: ${good.key}, intermediates: ${good.intermediates}, roots: ${good.roots} } }
  - { name: tenant-only, url: "https://{tenant}.partner.test:${nginx.port}", resolve: 127.0.0.1, allowPrivate: true, tls: { serverName: api.partner.test, cert: ${good.cert}, key: ${good.key}, intermediates: ${good.intermediates}, roots: ${good.roots} } }
`)
  // The secret-path endpoint's URL names it (the CLI runs inherit it); a URL holds it percent-encoded.
  process.env.MTLSGW_PATH_SECRET = PATH_SECRET
  gateway = compileGateway(loadConfig(config))
})

afterAll(async () => {
  delete process.env.MTLSGW_PATH_SECRET
  await gateway?.close()
  await nginx?.stop()
  await haproxy?.stop()
  pki?.cleanup()
  other?.cleanup()
})

const results = (r: ConnectionTestReport): string[] => r.steps.map((s) => s.result)
const failedAt = (step: number): string[] => results({ steps: Array.from({ length: 5 }, (_, i) => ({ step: '', result: i < step ? 'ok' : i === step ? 'failed' : 'not reached' })) } as unknown as ConnectionTestReport)

describe('the endpoint connection test, step by step', () => {
  it('the console\'s reply of a report masks a ${env:} secret the URL holds percent-encoded', async () => {
    const r = await testEndpointConnection(gateway, 'secret-path')
    expect(r.url).toContain(`/v1/${encodeURI(PATH_SECRET)}`)
    const reply = scrubbedJson(r, configSecretValues(gateway.config))
    for (const form of [PATH_SECRET, encodeURI(PATH_SECRET), 'path-secret']) expect(reply).not.toContain(form)
    expect((JSON.parse(reply) as ConnectionTestReport).url).toMatch(/^https:\/\/api\.partner\.test:\d+\/v1\/••••••$/)
  })

  it('passes all five steps against nginx and HAProxy, over a new connection outside the pool', async () => {
    for (const name of ['nginx', 'haproxy']) {
      const r = await testEndpointConnection(gateway, name)
      expect(r.ok, JSON.stringify(r)).toBe(true)
      expect(results(r)).toEqual(Array(5).fill('ok'))
      const port = name === 'nginx' ? nginx.port : haproxy.port
      expect(r.url).toBe(`https://api.partner.test:${port}/`)
      expect(r.steps.map((s) => s.detail)).toEqual([
        `connected to 127.0.0.1:${port}`,
        expect.stringMatching(/^CN=api\.partner\.test, issued by CN=Test Intermediate CA, O=mtls-gateway tests, valid until \d{4}-/),
        expect.stringMatching(/^chain, name and pins accepted \(TLSv1\.3\)$/),
        'CN=bot-runtime, O=mtls-gateway tests',
        name === 'nginx' ? 'HTTP 204' : 'HTTP 200',
      ])
      expect(gateway.endpoints.get(name)?.upstream.pool().connected).toBe(0)
    }
  })

  it('a client certificate the server refuses fails the last step: nginx\'s 400 page and HAProxy\'s alert alike', async () => {
    const byNginx = await testEndpointConnection(gateway, 'nginx-foreign')
    expect(results(byNginx)).toEqual(failedAt(4))
    expect(byNginx.error).toEqual({ reason: 'upstream_client_cert_rejected', msg: 'endpoint "nginx-foreign": client certificate rejected by the server (nginx: The SSL certificate error)' })
    const byHaproxy = await testEndpointConnection(gateway, 'haproxy-foreign')
    expect(results(byHaproxy)).toEqual(failedAt(4))
    expect(byHaproxy.error?.reason).toBe('upstream_client_cert_rejected')
  })

  it('the server\'s certificate fails verification at step 3: roots that do not anchor it, a name it does not carry', async () => {
    const untrusted = await testEndpointConnection(gateway, 'untrusted')
    expect(results(untrusted)).toEqual(failedAt(2))
    expect(untrusted.error?.reason).toBe('upstream_cert_untrusted')
    const misnamed = await testEndpointConnection(gateway, 'misnamed')
    expect(results(misnamed)).toEqual(failedAt(2))
    expect(misnamed.error?.reason).toBe('upstream_hostname_mismatch')
    expect(misnamed.error?.msg).toContain('expected "elsewhere.partner.test"')
  })

  it('nothing listening fails step 1; the gateway\'s own expired certificate fails step 4 without dialling', async () => {
    const nothing = await testEndpointConnection(gateway, 'nothing')
    expect(results(nothing)).toEqual(failedAt(0))
    expect(nothing.error?.reason).toBe('upstream_connect_refused')
    const expired = await testEndpointConnection(gateway, 'expired')
    expect(results(expired)).toEqual(failedAt(3))
    expect(expired.error?.reason).toBe('client_cert_expired')
    expect(expired.steps[0]?.detail).toBeUndefined()
  })

  it('a {tenant} endpoint needs the tenant; a tenant with its own bundle is tested with that bundle', async () => {
    await expect(testEndpointConnection(gateway, 'tenanted')).rejects.toMatchObject({ reason: 'tenant_invalid' })
    await expect(testEndpointConnection(gateway, 'tenanted', 'Not A Label!')).rejects.toMatchObject({ reason: 'tenant_invalid' })
    await expect(testEndpointConnection(gateway, 'nope')).rejects.toMatchObject({ reason: 'not_found' })
    const acme = await testEndpointConnection(gateway, 'tenanted', 'ACME')
    expect([acme.ok, acme.tenant, acme.url]).toEqual([true, 'acme', `https://acme.partner.test:${nginx.port}/t`])
    // globex's own bundle holds the certificate nginx refuses.
    const globex = await testEndpointConnection(gateway, 'tenanted', 'globex')
    expect([globex.ok, globex.error?.reason, globex.steps[3]?.detail]).toEqual([false, 'upstream_client_cert_rejected', 'CN=bot-runtime, O=mtls-gateway tests'])
  })

  it('mtls-gateway test-endpoint prints the report and exits 0, or 1 naming the failed step', async () => {
    const ok = await run(process.execPath, ['dist/src/main.js', 'test-endpoint', 'haproxy', '--config', config])
    expect(ok.stdout.split('\n')[0]).toMatch(/^Connection Test Passed: endpoint "haproxy" \(https:\/\/api\.partner\.test:\d+\/\), \d+ ms$/)
    expect(ok.stdout).toContain('  5. ok          the server verifies it and grants access: HTTP 200')
    const failed = await run(process.execPath, ['dist/src/main.js', 'test-endpoint', 'untrusted', '--config', config]).then(() => undefined, (e: { code: number; stderr: string }) => e)
    expect(failed?.code).toBe(1)
    expect(failed?.stderr).toContain('  3. failed      the gateway verifies it')
    expect(failed?.stderr).toContain('  4. not reached the gateway sends its client certificate')
    expect(failed?.stderr).toContain('error (upstream_cert_untrusted): endpoint "untrusted": ')
  })

  it('test-endpoint prints no secret of the config: a ${env:} in the URL\'s path is [REDACTED]', async () => {
    const ok = await run(process.execPath, ['dist/src/main.js', 'test-endpoint', 'secret-path', '--config', config])
    for (const form of [PATH_SECRET, encodeURI(PATH_SECRET), 'path-secret']) expect(ok.stdout).not.toContain(form)
    expect(ok.stdout.split('\n')[0]).toMatch(/^Connection Test Passed: endpoint "secret-path" \(https:\/\/api\.partner\.test:\d+\/v1\/\[REDACTED\]\)/)
  })

  it('test-endpoint --all tests every endpoint and tenant bundle, skips a {tenant} URL with none, and exits 1 when any fails', async () => {
    const all = await run(process.execPath, ['dist/src/main.js', 'test-endpoint', '--all', '--config', config]).then(() => undefined, (e: { code: number; stderr: string }) => e)
    expect(all?.code).toBe(1)
    const verdicts = (all?.stderr ?? '').split('\n').filter((l) => l.startsWith('Connection Test ')).map((l) => l.replace(/ \(https:.*$|: its URL.*$/, ''))
    expect(verdicts).toEqual([
      'Connection Test Passed: endpoint "nginx"', 'Connection Test Failed: endpoint "nginx-foreign"', 'Connection Test Passed: endpoint "haproxy"',
      'Connection Test Failed: endpoint "haproxy-foreign"', 'Connection Test Failed: endpoint "untrusted"', 'Connection Test Failed: endpoint "misnamed"',
      'Connection Test Failed: endpoint "nothing"', 'Connection Test Failed: endpoint "expired"', 'Connection Test Failed: endpoint "tenanted" tenant "globex"',
      'Connection Test Passed: endpoint "secret-path"', 'Connection Test Skipped: endpoint "tenant-only"',
    ])
    expect(all?.stderr.trimEnd().split('\n').at(-1)).toBe('3 passed, 7 failed, 1 skipped')
    const usage = await run(process.execPath, ['dist/src/main.js', 'test-endpoint', '--config', config]).then(() => undefined, (e: { code: number; stderr: string }) => e)
    expect([usage?.code, usage?.stderr.trim()]).toEqual([2, 'mtls-gateway: test-endpoint: name one endpoint, or give --all'])
  })
})
