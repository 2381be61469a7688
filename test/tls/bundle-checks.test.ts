import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { bundleValidity, loadBundle, type ValidityFault } from '../../src/tls/index.js'
import type { EndpointTlsConfig } from '../../src/config/index.js'
import { privateKeyPem } from '../../src/tls/index.js'

let pki: TestPki

function tls(over: Partial<EndpointTlsConfig>): EndpointTlsConfig {
  return {
    cert: pki.file('client.crt'),
    key: pki.file('client.key'),
    intermediates: [pki.file('inter.crt')],
    roots: [pki.file('root.crt')],
    clientRoots: [],
    systemRoots: false,
    minVersion: 'TLSv1.2',
    pins: [],
    crl: [],
    ...over,
  }
}

function problems(over: Partial<EndpointTlsConfig>): string[] {
  return loadBundle(tls(over)).problems.map((p) => `${p.file}: ${p.field}: ${p.msg}`)
}

function faults(over: Partial<EndpointTlsConfig>, now = Date.now()): readonly ValidityFault[] {
  const t = tls(over)
  const { bundle } = loadBundle(t)
  if (!bundle) throw new Error('bundle did not load')
  return bundleValidity(bundle, t).faults(now)
}

beforeAll(async () => {
  pki = await createTestPki('p256')
})
afterAll(() => pki?.cleanup())

describe('bundle checks at load', () => {
  it('accepts a good bundle and reports what it found', () => {
    const { bundle, problems: found } = loadBundle(tls({}))
    expect(found).toEqual([])
    expect(bundle?.keyType).toBe('EC prime256v1')
    expect(bundle?.chain.map((c) => c.subject)).toEqual([expect.stringContaining('CN=Test Intermediate CA')])
    expect(bundle?.clientRoot?.subject).toContain('CN=Test Root CA')
  })

  it('refuses a key that does not match the certificate, naming the key file', async () => {
    const other = await pki.issue({ subject: 'CN=other', issuer: pki.inter, usages: ['clientAuth'] })
    const key = pki.write('other.key', privateKeyPem(other))
    expect(problems({ key })).toEqual([`${key}: key: private key does not match the client certificate "CN=bot-runtime, O=mtls-gateway tests"`])
  })

  it('refuses a chain that does not build to a root (missing intermediate)', () => {
    const [p] = problems({ intermediates: [] })
    expect(p).toContain(`${pki.file('client.crt')}: cert: chain does not build to a configured root: no issuer found for "CN=bot-runtime, O=mtls-gateway tests"`)
  })

  it('does not build a chain by names alone: an impostor intermediate with the same name fails', async () => {
    const impostor = await pki.issue({ subject: 'CN=Test Intermediate CA,O=mtls-gateway tests', issuer: pki.root, ca: true })
    const file = pki.write('impostor.crt', impostor.pem)
    expect(problems({ intermediates: [file] })[0]).toContain('chain does not build to a configured root')
  })

  it('loads expired and not-yet-valid client certificates, and names their dates as faults of the clock', async () => {
    const expired = await pki.issue({ subject: 'CN=old', issuer: pki.inter, usages: ['clientAuth'], notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') })
    const e = pki.writePair('expired', expired)
    expect(problems(e)).toEqual([])
    expect(faults(e)).toEqual([{ reason: 'client_cert_expired', field: 'cert', msg: 'client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old")' }])
    // One validity answers for any instant, whatever it answered before (inclusive notAfter, to the millisecond).
    const t = tls(e)
    const validity = bundleValidity(loadBundle(t).bundle as NonNullable<ReturnType<typeof loadBundle>['bundle']>, t)
    const end = Date.parse('2021-01-01T00:00:00Z')
    // (The test PKI's intermediate and root date from today: only the client certificate's verdict is looked at.)
    const client = (now: number): string[] => validity.faults(now).filter((x) => x.msg.startsWith('client certificate')).map((x) => x.reason)
    expect(client(end + 1)).toEqual(['client_cert_expired'])
    expect(client(end)).toEqual([])
    expect(client(end + 1)).toEqual(['client_cert_expired'])
    expect(client(Date.parse('2019-12-31T23:59:59.999Z'))).toEqual(['client_cert_not_yet_valid'])
    expect(client(Date.parse('2020-01-01T00:00:00Z'))).toEqual([])
    const future = await pki.issue({ subject: 'CN=future', issuer: pki.inter, usages: ['clientAuth'], notBefore: new Date('2099-01-01T00:00:00Z'), notAfter: new Date('2100-01-01T00:00:00Z') })
    const f = pki.writePair('future', future)
    expect(problems(f)).toEqual([])
    expect(faults(f)).toEqual([{ reason: 'client_cert_not_yet_valid', field: 'cert', msg: 'client certificate is not valid before 2099-01-01T00:00:00.000Z ("CN=future")' }])
  })

  it('names an expired intermediate and, when every server root is outside its period, the roots', async () => {
    const oldInter = await pki.issue({ subject: 'CN=Old Intermediate', issuer: pki.root, ca: true, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') })
    const leaf = await pki.issue({ subject: 'CN=under-old', issuer: oldInter, usages: ['clientAuth'] })
    const pair = pki.writePair('under-old', leaf, { chain: [oldInter] })
    expect(faults({ ...pair, intermediates: [] }).map((x) => [x.reason, x.msg])).toEqual([
      ['client_cert_expired', 'intermediate certificate of the client chain expired on 2021-01-01T00:00:00.000Z ("CN=Old Intermediate")'],
    ])
    const oldRoot = await pki.issue({ subject: 'CN=Old Root', ca: true, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') })
    const roots = [pki.write('old-root.crt', oldRoot.pem)]
    expect(faults({ roots, clientRoots: [pki.file('root.crt')] })).toEqual([
      { reason: 'server_roots_not_valid', field: 'roots', msg: 'no server root is valid now: "CN=Old Root" expired on 2021-01-01T00:00:00.000Z' },
    ])
    // One valid root is enough; with system roots the gateway cannot tell which anchor a server uses.
    expect(faults({ roots: [...roots, pki.file('root.crt')] })).toEqual([])
    expect(faults({ roots, clientRoots: [pki.file('root.crt')], systemRoots: true })).toEqual([])
  })

  it('a CA renewed with its key (one name, one key, other dates): the chain takes the copy within its dates, in whatever order the files list them', async () => {
    const expired = { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') }
    const oldRoot = await pki.issue({ subject: 'CN=Test Root CA,O=mtls-gateway tests', keys: pki.root.keys, kind: pki.root.kind, ca: true, ...expired })
    const oldInter = await pki.issue({ subject: 'CN=Test Intermediate CA,O=mtls-gateway tests', keys: pki.inter.keys, issuer: pki.root, ca: true, pathLength: 0, ...expired })
    const validTo = (c: { validTo: string } | undefined): string | undefined => c?.validTo
    for (const [order, roots, intermediates] of [
      ['expired copies first', [oldRoot.pem + pki.root.pem], [oldInter.pem + pki.inter.pem]],
      ['expired copies last', [pki.root.pem + oldRoot.pem], [pki.inter.pem + oldInter.pem]],
    ] as const) {
      const t = tls({ roots: [pki.write(`roots-${order}.crt`, roots[0])], clientRoots: [], intermediates: [pki.write(`inters-${order}.crt`, intermediates[0])] })
      const { bundle, problems: found } = loadBundle(t)
      expect(found, order).toEqual([])
      // The copy sent and judged is the one within its dates: nothing about the clock to report.
      expect(bundle?.chain.map(validTo), order).toEqual([new X509Certificate(pki.inter.pem).validTo])
      expect(validTo(bundle?.clientRoot), order).toBe(new X509Certificate(pki.root.pem).validTo)
      expect(bundle && bundleValidity(bundle, t).faults(Date.now()), order).toEqual([])
    }
  })

  it('refuses a certificate whose extended key usage lacks clientAuth; accepts one without the extension', async () => {
    const serverOnly = pki.writePair('server-only', await pki.issue({ subject: 'CN=srv', issuer: pki.inter, usages: ['serverAuth'] }))
    expect(problems(serverOnly)).toEqual([`${serverOnly.cert}: cert: client certificate "CN=srv" has an extended key usage without clientAuth (serverAuth)`])
    const noEku = pki.writePair('no-eku', await pki.issue({ subject: 'CN=plain', issuer: pki.inter }))
    expect(problems(noEku)).toEqual([])
  })

  it('refuses an intermediate whose extended key usage lacks clientAuth, as a real TLS server refuses the client under it', async () => {
    const serverOnlyCa = await pki.issue({ subject: 'CN=Server-only Intermediate', issuer: pki.root, ca: true, pathLength: 0, usages: ['serverAuth'] })
    const leaf = await pki.issue({ subject: 'CN=under-server-only', issuer: serverOnlyCa, usages: ['clientAuth'] })
    const pair = pki.writePair('under-server-only', leaf)
    const intermediates = [pki.write('server-only-ca.crt', serverOnlyCa.pem)]
    // Said at the key and file the intermediate came from (intermediates), not the client certificate's.
    const sentence = 'intermediate certificate "CN=Server-only Intermediate" of the client chain has an extended key usage without clientAuth (serverAuth): TLS servers refuse a client certificate under it'
    expect(problems({ ...pair, intermediates })).toEqual([`${intermediates[0]}: intermediates: ${sentence}`])
    // Appended to the client certificate's file instead, it is said there.
    const appended = pki.write('under-server-only-chain.crt', leaf.pem + serverOnlyCa.pem)
    expect(problems({ ...pair, cert: appended })).toEqual([`${appended}: cert: ${sentence}`])
    // What OpenSSL says of that chain, as a server verifying client certificates against the root.
    const server = createTlsServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true, rejectUnauthorized: false })
    const verdict = new Promise<string>((resolve) => server.once('secureConnection', (s: TLSSocket) => (resolve(String(s.authorizationError)), s.destroy())))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const client = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', cert: leaf.pem + serverOnlyCa.pem, key: readFileSync(pair.key), rejectUnauthorized: false })
    client.on('error', () => {})
    try {
      expect(await verdict).toMatch(/purpose/i)
    } finally {
      client.destroy()
      server.close()
    }
  })

  it('explains encrypted keys: missing passphrase, wrong passphrase; and unreadable files', () => {
    const key = pki.write('enc.key', privateKeyPem(pki.client, 'pkcs8', 'right'))
    expect(problems({ key })).toEqual([`${key}: key: private key is encrypted: set keyPassphrase`])
    expect(problems({ key, keyPassphrase: 'wrong' })[0]).toMatch(new RegExp(`^${key}: key: cannot decrypt private key: wrong keyPassphrase`))
    expect(problems({ key, keyPassphrase: 'right' })).toEqual([])
    expect(problems({ cert: join(pki.dir, 'nope.crt') })[0]).toBe(`${join(pki.dir, 'nope.crt')}: cert: cannot read file: ENOENT`)
    const garbage = pki.write('garbage.key', 'not a key')
    expect(problems({ key: garbage })[0]).toMatch(/key: not a PEM private key \(PKCS#1, PKCS#8 or SEC1\)/)
  })

  it('explains a PKCS#12 with a wrong passphrase', () => {
    const out = join(pki.dir, 'c.p12')
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', pki.file('client.key'), '-in', pki.file('client.crt'), '-passout', 'pass:right', '-out', out])
    expect(problems({ cert: undefined, key: undefined, pkcs12: out, pkcs12Passphrase: 'wrong' })[0]).toMatch(/pkcs12: cannot open PKCS#12: wrong passphrase/)
  })
})

describe('bundle certificates never become trust anchors', () => {
  let rogueServer: RunningServer
  afterAll(async () => {
    await rogueServer?.close()
  })

  it('a server signed by a CA that only appears inside the PKCS#12 or the cert file is untrusted', async () => {
    // The rogue CA travels inside the client bundle; only tls.roots may anchor the server.
    const rogueRoot = await pki.issue({ subject: 'CN=Rogue CA', ca: true })
    const rogueLeaf = await pki.issue({ subject: 'CN=api.partner.test', issuer: rogueRoot, usages: ['serverAuth'], names: ['api.partner.test'] })
    const srv = pki.writePair('rogue-server', rogueLeaf)
    rogueServer = await startMtlsServer({ cert: srv.cert, key: srv.key, ca: pki.file('root.crt') })
    const withRogue = pki.write('client-plus-rogue.crt', pki.client.pem + pki.inter.pem + rogueRoot.pem)
    const p12 = join(pki.dir, 'rogue.p12')
    writeFileSync(join(pki.dir, 'rogue-ca.crt'), rogueRoot.pem + pki.inter.pem)
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', pki.file('client.key'), '-in', pki.file('client.crt'), '-certfile', join(pki.dir, 'rogue-ca.crt'), '-passout', 'pass:pw', '-out', p12])
    const roots = pki.file('root.crt')
    const gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('appended', rogueServer.port, { cert: withRogue, key: pki.file('client.key'), roots })}${endpointYaml('p12', rogueServer.port, { pkcs12: p12, pkcs12Passphrase: 'pw', roots })}`)
    try {
      for (const name of ['appended', 'p12']) {
        const r = await send(gw.url, `/proxy/${name}/x`)
        expect(r.status, name).toBe(502)
        expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(new RegExp(`^endpoint "${name}": server certificate untrusted`)), code: 502 }] })
      }
    } finally {
      await gw.close()
    }
  })
})
