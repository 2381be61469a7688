/**
 * An intercepted tunnel presents the leaf of its CONNECT target and nothing else, whatever SNI
 * the caller's ClientHello names: none, an IP literal, the target in other letter case or with a
 * trailing dot, another host configured on the same port (the gateway used to mint and present
 * that host's leaf inside this tunnel), another port's host, an unconfigured name. Real clients:
 * node:tls with an explicit servername, and `openssl s_client -proxy … -servername …`.
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

const P = 8443
const API = 'api.partner.test'
const OTHER = 'other.partner.test'
/** The tunnels tried, and the subjectAltName each one's leaf must carry. */
const TARGETS: { authority: string; san: string }[] = [
  { authority: `${API}:${P}`, san: `DNS:${API}` },
  { authority: `${OTHER}:${P}`, san: `DNS:${OTHER}` },
  { authority: `[::1]:${P}`, san: 'IP Address:0:0:0:0:0:0:0:1' },
]

let pki: TestPki
let gw: RunningGateway
let caFile = ''
let ca = ''

beforeAll(async () => {
  pki = await createTestPki('p256')
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  caFile = ica.caCert
  ca = readFileSync(caFile, 'utf8')
  // Nothing is dialled: no inner request is sent, only the caller's handshake is looked at.
  const endpoint = (name: string, url: string): string => `  - name: ${name}\n    url: ${url}\n    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
endpoints:
${endpoint('api', `https://${API}:${P}`)}${endpoint('other', `https://${OTHER}:${P}`)}${endpoint('elsewhere', `https://${API}:9443`)}${endpoint('loop', `https://[::1]:${P}`)}`)
})

afterAll(async () => {
  await gw?.close()
  pki?.cleanup()
})

const gatewayPort = (): number => Number(new URL(gw.url).port)

/** CONNECT `authority`, then a TLS handshake inside with `servername` (no SNI when undefined); the leaf shown. */
function leafThrough(authority: string, servername: string | undefined, verify = false): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const raw: Socket = netConnect(gatewayPort(), '127.0.0.1', () => raw.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`))
    raw.once('error', reject)
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      raw.off('data', onData)
      if (!head.startsWith('HTTP/1.1 200')) return reject(new Error(`CONNECT ${authority}: ${head.split('\r\n')[0]}`))
      const tls = tlsConnect({ socket: raw, ca, rejectUnauthorized: verify, ...(servername !== undefined ? { servername } : {}) })
      tls.once('secureConnect', () => {
        resolve(tls.getPeerCertificate())
        tls.destroy()
      })
      tls.once('error', (e) => (tls.destroy(), reject(e)))
    }
    raw.on('data', onData)
  })
}

/** Every SNI a caller might send on a tunnel to `target` (a DNS name, or an IP literal's text). */
const sniValues = (target: string): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('127.0.0.1', '::1', '10.0.0.1'),
    fc.constantFrom(target, API, OTHER, 'evil.example', 'localhost', `${API}.evil.example`, 'partner.test').chain((name) =>
      fc.tuple(fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }), fc.boolean()).map(([upper, dot]) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('') + (dot ? '.' : '')),
    ),
    fc.domain(),
  )

describe('the leaf inside a tunnel is the CONNECT target\'s, whatever the SNI', () => {
  it('seeded property: SNI absent, IP literal, case variants, trailing dot, other configured and unconfigured hosts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TARGETS).chain((t) => fc.tuple(fc.constant(t), sniValues(t.authority.replace(/:\d+$/, '')))), async ([target, sni]) => {
        const leaf = await leafThrough(target.authority, sni)
        expect(leaf.subjectaltname, `CONNECT ${target.authority}, SNI ${sni}`).toBe(target.san)
      }),
      { seed: 0x5e1, numRuns: 100 },
    )
  }, 120_000)

  it('node:tls verifying the SNI: the target verifies, another configured host on the port is the client\'s hostname error', async () => {
    expect((await leafThrough(`${API}:${P}`, API, true)).subjectaltname).toBe(`DNS:${API}`)
    await expect(leafThrough(`${API}:${P}`, OTHER, true)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })

  it('openssl s_client -proxy -servername: the leaf names the CONNECT target, not the SNI', async () => {
    for (const [target, sni, san] of [[`${API}:${P}`, OTHER, `DNS:${API}`], [`${OTHER}:${P}`, API, `DNS:${OTHER}`], [`${API}:${P}`, 'evil.example', `DNS:${API}`]] as const) {
      const out = await new Promise<string>((resolve, reject) => {
        const child = execFile('openssl', ['s_client', '-proxy', `127.0.0.1:${gatewayPort()}`, '-connect', target, '-servername', sni, '-CAfile', caFile], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
        child.stdin?.end()
      })
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0]
      expect(pem, out).toBeDefined()
      expect(new X509Certificate(pem as string).subjectAltName, `openssl: CONNECT ${target}, -servername ${sni}`).toBe(san)
      // Its own check of the chain to the interception CA passed: only the name differs from the SNI.
      expect(out).toMatch(/Verify return code: 0 \(ok\)/)
    }
  })
})
