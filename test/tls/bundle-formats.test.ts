import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { privateKeyPem, type KeyKind } from '../../src/tls/index.js'

// Real handshakes for every bundle format and key type: the upstream trusts only the
// ROOTS, so each call also proves the gateway presented the intermediate.
const KINDS: KeyKind[] = ['rsa2048', 'p256', 'p384']
const PASS = 'correct horse battery staple'
let serverPki: TestPki
const pkis = new Map<KeyKind, TestPki>()
let upstream: RunningServer
let gw: RunningGateway
const names: { name: string; kind: KeyKind; format: string }[] = []

// OpenSSL takes a passphrase as UTF-8 (PBES2's key derivation gets those bytes): Latin-1, Cyrillic, beyond the BMP.
const UNICODE_PASS = 'café-Пароль-€-😀'

function p12(pki: TestPki, out: string, legacy: boolean, o: { pass?: string; chain?: boolean } = {}): string {
  const chain = o.chain === false ? [] : ['-certfile', pki.file('inter.crt')]
  const args = ['pkcs12', '-export', '-inkey', pki.file('client.key'), '-in', pki.file('client.crt'), ...chain, '-passout', `pass:${o.pass ?? PASS}`, '-out', out]
  execFileSync('openssl', legacy ? [...args, '-legacy'] : args, { stdio: 'pipe' })
  return out
}

beforeAll(async () => {
  serverPki = await createTestPki('p256')
  for (const kind of KINDS) pkis.set(kind, await createTestPki(kind))
  const caBundle = serverPki.write('client-roots.crt', KINDS.map((k) => pkis.get(k)!.root.pem).join(''))
  upstream = await startMtlsServer({ cert: serverPki.file('server-chain.crt'), key: serverPki.file('server.key'), ca: caBundle })
  let yaml = 'admin: { enabled: false }\nendpoints:\n'
  const roots = serverPki.file('root.crt')
  for (const kind of KINDS) {
    const pki = pkis.get(kind)!
    const add = (format: string, tls: Record<string, string | string[]>): void => {
      const name = `${kind}-${format}`.toLowerCase().replace(/[^a-z0-9-]/g, '-')
      names.push({ name, kind, format })
      yaml += endpointYaml(name, upstream.port, { ...tls, roots, clientRoots: pki.file('root.crt') })
    }
    const rsa = kind.startsWith('rsa')
    const plainFormat = rsa ? 'pkcs1' : 'sec1'
    add(`pem-${plainFormat}`, { cert: pki.file('client.crt'), key: pki.write(`k-${plainFormat}.pem`, privateKeyPem(pki.client, plainFormat)), intermediates: pki.file('inter.crt') })
    add('pem-pkcs8', { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: [pki.file('inter.crt')] })
    add('pem-pkcs8-encrypted', { cert: pki.file('client.crt'), key: pki.write('k-enc8.pem', privateKeyPem(pki.client, 'pkcs8', PASS)), keyPassphrase: PASS, intermediates: pki.file('inter.crt') })
    add(`pem-${plainFormat}-encrypted`, { cert: pki.file('client.crt'), key: pki.write('k-enc-legacy.pem', privateKeyPem(pki.client, plainFormat, PASS)), keyPassphrase: PASS, intermediates: pki.file('inter.crt') })
    add('chain-appended', { cert: pki.write('client-chain.crt', pki.client.pem + pki.inter.pem), key: pki.file('client.key') })
    add('pkcs12', { pkcs12: p12(pki, join(pki.dir, 'client.p12'), false), pkcs12Passphrase: PASS })
    if (rsa) add('pkcs12-legacy', { pkcs12: p12(pki, join(pki.dir, 'client-legacy.p12'), true), pkcs12Passphrase: PASS })
    add('pkcs12-unicode-passphrase', { pkcs12: p12(pki, join(pki.dir, 'client-unicode.p12'), false, { pass: UNICODE_PASS }), pkcs12Passphrase: UNICODE_PASS })
    if (rsa) add('pkcs12-legacy-unicode-passphrase', { pkcs12: p12(pki, join(pki.dir, 'client-legacy-unicode.p12'), true, { pass: UNICODE_PASS }), pkcs12Passphrase: UNICODE_PASS })
    // A file exported without its chain: the intermediate comes from `intermediates` (the upstream trusts only the root).
    add('pkcs12-intermediates', { pkcs12: p12(pki, join(pki.dir, 'client-no-chain.p12'), false, { chain: false }), pkcs12Passphrase: PASS, intermediates: pki.file('inter.crt') })
    const secretDir = join(pki.dir, 'k8s-secret')
    mkdirSync(secretDir)
    writeFileSync(join(secretDir, 'tls.crt'), pki.client.pem + pki.inter.pem)
    writeFileSync(join(secretDir, 'tls.key'), privateKeyPem(pki.client))
    writeFileSync(join(secretDir, 'ca.crt'), serverPki.root.pem)
    names.push({ name: `${kind}-k8s-dir`, kind, format: 'k8s-dir' })
    yaml += endpointYaml(`${kind}-k8s-dir`, upstream.port, { dir: secretDir, clientRoots: pki.file('root.crt') })
  }
  gw = await startTestGateway(serverPki.dir, yaml)
}, 120_000)

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  serverPki?.cleanup()
  for (const p of pkis.values()) p.cleanup()
})

describe('client bundle formats, real handshakes', () => {
  it('covers every format for RSA, P-256 and P-384', () => {
    expect(names.length).toBe(KINDS.length * 9 + 2)
  })

  it.each(KINDS)('%s: every format presents the client certificate and its intermediate', async (kind) => {
    const mine = names.filter((n) => n.kind === kind)
    for (const { name, format } of mine) {
      const r = await send(gw.url, `/proxy/${name}/who`)
      expect(r.status, `${name}: ${r.text}`).toBe(200)
      const echo = r.json<EchoReply>()
      expect(echo.clientSubject, format).toBe('CN=bot-runtime,O=mtls-gateway tests')
      expect(echo.clientIssuer, format).toContain('CN=Test Intermediate CA')
    }
  })
})
