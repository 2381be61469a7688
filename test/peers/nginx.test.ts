/**
 * Interop with a server nobody here wrote: nginx (Debian) requiring a client certificate.
 * Its trusted file holds only the ROOT, so the chain client → intermediate → root builds
 * only when the gateway presents the intermediate; ssl_verify_depth 2 allows that chain
 * (and depth 0 refuses it, proving nginx really walks it). nginx reports the client DN it
 * verified. Also: the real curl binary as the caller, through the gateway to nginx; and
 * nginx with TLS 1.2 only against a TLS 1.3-only endpoint.
 * nginx refuses a client certificate over HTTP (a 400 with its own page, the handshake done):
 * the gateway answers that as a TLS-level refusal, 502 upstream_client_cert_rejected, counted as
 * a handshake failure (until s24 the 400 was relayed: no count, no alert, no log reason).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send, type Reply } from '../support/gateway.js'
import { startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { accessLineWhere, samples, scrape, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { startNginx, verifyingNginxServer, type Peer } from '../support/peers.js'
import { clientTls, strangerClientTls, verifyingFiles, type TestPki } from '../support/pki.js'
import { createOpensslTestPki } from '../support/openssl-pki.js' // certificates minted by the real openssl, not by src/tls

const run = promisify(execFile)

let pki: TestPki
let g: OpsGateway
let gw: OpsGateway['gw']
/** Replays `replayed` (nginx's own answer to a caller with no certificate: the gateway always sends one). */
let replay: ScriptedBackend
let replayed = ''
let mtls: Peer
let shallow: Peer
let tls12: Peer

// nginx prints $ssl_client_s_dn in RFC 2253 order (last RDN first).
const DN = 'O=mtls-gateway tests,CN=bot-runtime'

/** The server block: server chain, client certs verified against the root only. */
function serverBlock(depth: number, extra = ''): string {
  return verifyingNginxServer(verifyingFiles(pki), depth, `${extra}
    location / {
      default_type text/plain;
      return 200 "dn=$ssl_client_s_dn verify=$ssl_client_verify proto=$ssl_protocol uri=$request_uri\\n";
    }`)
}

beforeAll(async () => {
  pki = await createOpensslTestPki()
  // nginx 1.22 leaves TLS 1.3 out of its default ssl_protocols: turn it on explicitly.
  mtls = await startNginx({ server: serverBlock(2, '    ssl_protocols TLSv1.2 TLSv1.3;') })
  shallow = await startNginx({ server: serverBlock(0, '    ssl_protocols TLSv1.2 TLSv1.3;') })
  tls12 = await startNginx({ server: serverBlock(2, '    ssl_protocols TLSv1.2;') })
  const full = clientTls(pki)
  // A client nginx cannot chain: only its leaf is presented (strangerClientTls).
  const leafOnly = await strangerClientTls(pki)
  replay = await startScriptedBackend(pki, () => replayed)
  g = await startOpsGateway(pki.dir, `endpoints:
${endpointYaml('nginx', mtls.port, full)}${endpointYaml('nginx-leaf-only', mtls.port, leafOnly, '    hosts: ["leaf-only.partner.test:' + mtls.port + '"]\n')}${endpointYaml('nginx-depth0', shallow.port, full)}${endpointYaml('nginx-tls12', tls12.port, { ...full, minVersion: 'TLSv1.3' })}${endpointYaml('nginx-tls12-ok', tls12.port, full)}${endpointYaml('nginx-no-cert-replay', replay.port, full)}`)
  gw = g.gw
})

afterAll(async () => {
  await gw?.close()
  for (const p of [mtls, shallow, tls12]) await p?.stop()
  await replay?.close()
  pki?.cleanup()
})

describe('nginx with ssl_verify_client on, root-only trust', () => {
  it('accepts the gateway when it presents client + intermediate, and reports the client DN', async () => {
    const r = await send(gw.url, `http://api.partner.test:${mtls.port}/v1/who?x=1`)
    expect(r.status, r.text).toBe(200)
    expect(r.text).toBe(`dn=${DN} verify=SUCCESS proto=TLSv1.3 uri=/v1/who?x=1\n`)
  })

  it('refuses a client chain it cannot build (the leaf alone, its CA unknown there): nginx answers 400 over HTTP, the gateway a 502 naming the refusal', async () => {
    const r = await send(gw.url, '/proxy/nginx-leaf-only/v1/who')
    // The handshake completed and nginx answered over HTTP; the gateway reads that page as the refusal it is.
    expectRefused(r, 'nginx-leaf-only', 'The SSL certificate error')
    // A caller whose User-Agent names Chrome or MSIE gets nginx's padded page: the same refusal.
    expectRefused(await send(gw.url, '/proxy/nginx-leaf-only/v1/who', { headers: { 'user-agent': 'Mozilla/5.0 Chrome/120.0' } }), 'nginx-leaf-only', 'The SSL certificate error')
    expect(mtls.read('error.log')).toMatch(/client SSL certificate verify error: \((20|21):unable to (get local issuer certificate|verify the first certificate)\)/)
  })

  it('ssl_verify_depth matters: with depth 0 nginx refuses even the full chain', async () => {
    const r = await send(gw.url, '/proxy/nginx-depth0/v1/who')
    expectRefused(r, 'nginx-depth0', 'The SSL certificate error')
    expect(shallow.read('error.log')).toMatch(/client SSL certificate verify error: \(\d+:[^)]+\)/)
  })

  it('no certificate at all: nginx\'s own answer (496, sent as 400) is the same 502', async () => {
    // An endpoint always has a client bundle, so ask nginx directly without one and replay its exact bytes.
    replayed = await withoutCertificate(mtls.port)
    expect(replayed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(replayed).toContain('\r\n\r\n<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>')
    const r = await send(gw.url, '/proxy/nginx-no-cert-replay/v1/who')
    expectRefused(r, 'nginx-no-cert-replay', 'No required SSL certificate was sent')
  })

  it('counts each refusal as a TLS handshake failure (reason upstream_client_cert_rejected) and logs the reason', async () => {
    const m = await scrape(g.adminUrl)
    // Counted series only: each endpoint's reasons exist at 0 from the start.
    const failures = samples(m, 'mtls_gateway_upstream_tls_handshake_failures_total').filter((s) => s.value !== 0)
    for (const endpoint of ['nginx-leaf-only', 'nginx-depth0', 'nginx-no-cert-replay']) {
      expect(failures.find((s) => s.labels.endpoint === endpoint)?.labels.reason, endpoint).toBe('upstream_client_cert_rejected')
      const line = await accessLineWhere(g, (e) => e.endpoint === endpoint, `${endpoint}'s access line`)
      expect(line?.reason, endpoint).toBe('upstream_client_cert_rejected')
      expect(line?.status, endpoint).toBe(502)
    }
    expect(failures.find((s) => s.labels.endpoint === 'nginx')).toBeUndefined()
  })

  it('TLS 1.2-only nginx against a TLS 1.3-only endpoint → 502 TLS version refused (TLS 1.2 endpoint works)', async () => {
    const r = await send(gw.url, '/proxy/nginx-tls12/x')
    expect(r.status, r.text).toBe(502)
    const body = r.json<{ errors: { msg: string; code: number }[] }>()
    expect(body).toEqual({ errors: [{ msg: expect.stringMatching(/^endpoint "nginx-tls12": TLS version refused/), code: 502 }] })
    const ok = await send(gw.url, '/proxy/nginx-tls12-ok/x')
    expect(ok.status, ok.text).toBe(200)
    expect(ok.text).toBe(`dn=${DN} verify=SUCCESS proto=TLSv1.2 uri=/x\n`)
  })
})

describe('curl -x: the real curl as the caller', () => {
  /** curl with no proxy settings from the environment (NO_PROXY could bypass -x). */
  async function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    return run('curl', ['-sS', '--noproxy', '', '--max-time', '20', ...args], { env })
  }

  it('curl → gateway (plain HTTP proxy) → mTLS → nginx: curl prints the client DN nginx verified', async () => {
    const { stdout } = await curl(['-x', gw.url, `http://api.partner.test:${mtls.port}/from-curl?q=1`])
    expect(stdout).toBe(`dn=${DN} verify=SUCCESS proto=TLSv1.3 uri=/from-curl?q=1\n`)
  })

  it('curl gets a JSON 502 naming nginx\'s refusal of a client chain it cannot build, and a JSON 403 for an unknown host', async () => {
    const refused = await curl(['-x', gw.url, '-w', '\\n%{http_code}', `http://leaf-only.partner.test:${mtls.port}/`])
    const msg = 'endpoint "nginx-leaf-only": client certificate rejected by the server (nginx: The SSL certificate error)'
    expect(refused.stdout).toBe(`${JSON.stringify({ errors: [{ msg, code: 502 }] })}\n502`)
    const denied = await curl(['-x', gw.url, '-w', '\\n%{http_code}', 'http://not-configured.example/'])
    const [json, code] = denied.stdout.split('\n')
    expect(code).toBe('403')
    expect(JSON.parse(json as string)).toEqual({ errors: [{ msg: expect.stringContaining('not configured'), code: 403 }] })
  })
})

/** The gateway's 502 for nginx's refusal: its message, JSON, nothing of nginx's page. */
function expectRefused(r: Reply, endpoint: string, text: string): void {
  expect(r.status, r.text).toBe(502)
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  expect(r.json()).toEqual({ errors: [{ msg: `endpoint "${endpoint}": client certificate rejected by the server (nginx: ${text})`, code: 502 }] })
}

/** nginx's whole answer (head and body, as bytes in latin1) to a request sent with no client certificate. */
function withoutCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect({ host: '127.0.0.1', port, servername: 'api.partner.test', ca: readFileSync(pki.file('root.crt')) }, () => {
      s.write('GET /v1/who HTTP/1.1\r\nHost: api.partner.test\r\nConnection: close\r\n\r\n')
    })
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')))
    s.on('error', reject)
  })
}
