/**
 * Every certificate-verification failure has a name. The table covers each code Node can
 * report (its X509ErrorCode list); real handshakes against servers holding certificates made
 * here show the reasons the upstream-errors tests do not: a server certificate without
 * serverAuth, a path-length violation, an issuer that is not a CA, a tampered signature,
 * self-signed leaves and chains — and the hostname-mismatch message names the expected name
 * and the certificate's names. Each counts as a handshake failure. An expired CRL is known
 * before any handshake (its nextUpdate is read at load, test/tls/crl-validity.test.ts): the
 * endpoint is degraded without dialling, and nothing is counted as a handshake failure.
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STATUS } from '../../src/errors.js'
import { VERIFY_CODES, isHandshakeReason, type Issued } from '../../src/tls/index.js'
import { endpointYaml, send, type Reply } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { samples, scrape, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const DAY = 86_400_000
// node/src/crypto/crypto_common.cc, X509ErrorCode(): every name Node gives err.code.
const NODE_VERIFY_CODES = [
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
  'UNSPECIFIED',
]

let pki: TestPki
let g: OpsGateway
const servers: RunningServer[] = []

/** Flips the last byte of the certificate's signature: same fields, signature no longer verifies. */
function tamper(issued: Issued): string {
  const der = Buffer.from(issued.cert.rawData)
  der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01
  return x509.PemConverter.encode(der, 'CERTIFICATE') + '\n'
}

async function expiredCrl(issuer: Issued): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate: new Date(Date.now() - 10 * DAY),
    nextUpdate: new Date(Date.now() - DAY),
    entries: [],
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    signingKey: issuer.keys.privateKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
  })
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n'
}

beforeAll(async () => {
  pki = await createTestPki()
  const { root, inter } = pki
  const names = ['api.partner.test']
  const clientOnly = await pki.issue({ subject: 'CN=api.partner.test,O=client-only', issuer: inter, usages: ['clientAuth'], names })
  const subCa = await pki.issue({ subject: 'CN=Too Deep CA', issuer: inter, ca: true })
  const tooDeep = await pki.issue({ subject: 'CN=api.partner.test,O=too-deep', issuer: subCa, usages: ['serverAuth'], names })
  const notCa = await pki.issue({ subject: 'CN=Not A CA', issuer: inter, usages: ['serverAuth'], names: ['not-a-ca.test'] })
  const underNotCa = await pki.issue({ subject: 'CN=api.partner.test,O=under-leaf', issuer: notCa, usages: ['serverAuth'], names })
  const selfSigned = await pki.issue({ subject: 'CN=api.partner.test,O=self', usages: ['serverAuth'], names })
  const strayRoot = await pki.issue({ subject: 'CN=Stray Root', ca: true })
  const strayLeaf = await pki.issue({ subject: 'CN=api.partner.test,O=stray', issuer: strayRoot, usages: ['serverAuth'], names })
  const wrongName = await pki.issue({ subject: 'CN=billing.other.test', issuer: inter, usages: ['serverAuth'], names: ['billing.other.test', '10.9.8.7'] })
  const pair = (base: string, issued: Issued, chain: Issued[]): { cert: string; key: string } => pki.writePair(base, issued, { chain })
  const files: Record<string, { cert: string; key: string }> = {
    'wrong-purpose': pair('client-only', clientOnly, [inter]),
    'path-length': pair('too-deep', tooDeep, [subCa, inter]),
    'not-a-ca': pair('under-leaf', underNotCa, [notCa, inter]),
    'self-signed': pair('self', selfSigned, []),
    'stray-root': pair('stray', strayLeaf, [strayRoot]),
    'wrong-name': pair('wrong-name', wrongName, [inter]),
    'crl-expired': { cert: pki.file('server-chain.crt'), key: pki.file('server.key') },
    'bad-signature': { cert: pki.write('tampered.crt', tamper(pki.server) + inter.pem), key: pki.file('server.key') },
  }
  pki.write('inter-expired.crl', await expiredCrl(inter))
  pki.write('root-expired.crl', await expiredCrl(root))
  const tls = clientTls(pki)
  let yaml = 'admin: { enabled: false }\nendpoints:\n'
  for (const [name, f] of Object.entries(files)) {
    const s = await startMtlsServer({ ...f, ca: pki.file('root.crt') })
    servers.push(s)
    const extra: Record<string, string[]> = name === 'crl-expired' ? { crl: [pki.file('inter-expired.crl'), pki.file('root-expired.crl')] } : {}
    yaml += endpointYaml(name, s.port, { ...tls, ...extra })
  }
  g = await startOpsGateway(pki.dir, yaml.replace('admin: { enabled: false }\n', ''))
})

afterAll(async () => {
  await g?.gw.close()
  await Promise.all(servers.map((s) => s.close()))
  pki?.cleanup()
})

function expect502(r: Reply, endpoint: string, reason: RegExp): string {
  expect(r.status, r.text).toBe(502)
  const body = r.json<{ errors: { msg: string; code: number }[] }>()
  expect(body).toEqual({ errors: [{ msg: expect.stringContaining(`endpoint "${endpoint}": `), code: 502 }] })
  const msg = body.errors[0]!.msg
  expect(msg).toMatch(reason)
  expect(msg).not.toMatch(/\b[A-Z]+(_[A-Z]+){2,}\b/) // never a bare OpenSSL code
  return msg
}

describe('the verification table', () => {
  it('names every code Node can report, each with a 502 reason counted as a handshake failure', () => {
    expect(Object.keys(VERIFY_CODES).sort()).toEqual([...NODE_VERIFY_CODES].sort())
    for (const [code, cause] of Object.entries(VERIFY_CODES)) {
      expect(STATUS[cause.reason], code).toBe(502)
      expect(isHandshakeReason(cause.reason), code).toBe(true)
      expect(cause.text, code).not.toContain(code)
    }
  })
})

describe('every verification reason, from a real handshake', () => {
  const call = (endpoint: string): Promise<Reply> => send(g.gw.url, `/proxy/${endpoint}/x`)

  it('a server certificate without serverAuth in its extended key usage: upstream_cert_wrong_purpose', async () => {
    expect502(await call('wrong-purpose'), 'wrong-purpose', /not valid for server authentication \(its extended key usage lacks serverAuth\)/)
  })

  it("a CA beyond the intermediate's path length: untrusted, path length named", async () => {
    expect502(await call('path-length'), 'path-length', /untrusted \(a CA's path length constraint is exceeded\)/)
  })

  it('a certificate issued by a leaf: untrusted, in OpenSSL\'s words when Node has no name for the code', async () => {
    // The issuer lacks keyCertSign: X509_V_ERR_KEYUSAGE_NO_CERTSIGN, which Node reports as UNSPECIFIED.
    expect502(await call('not-a-ca'), 'not-a-ca', /untrusted \(OpenSSL: key usage does not include certificate signing\)/)
  })

  it('a tampered signature: untrusted, bad signature', async () => {
    expect502(await call('bad-signature'), 'bad-signature', /untrusted \((bad signature|its signature cannot be decoded)\)/)
  })

  it('a self-signed leaf, and a chain ending in a root nobody configured', async () => {
    expect502(await call('self-signed'), 'self-signed', /untrusted \(self-signed\)/)
    expect502(await call('stray-root'), 'stray-root', /untrusted \(self-signed certificate in chain\)/)
  })

  it('an expired CRL: degraded without dialling, the CRL and its nextUpdate named', async () => {
    expect502(await call('crl-expired'), 'crl-expired', /the CRL of ".*" \(.*-expired\.crl\) expired on .* \(its nextUpdate\)/)
  })

  it('hostname mismatch names the expected name and the names the certificate carries', async () => {
    const msg = expect502(await call('wrong-name'), 'wrong-name', /hostname mismatch/)
    expect(msg).toContain('expected "api.partner.test"')
    expect(msg).toContain('DNS:billing.other.test')
    expect(msg).toContain('IP Address:10.9.8.7')
  })

  it('counts each as a TLS handshake failure by its reason', async () => {
    const m = await scrape(g.adminUrl)
    // Counted series only: each endpoint's reasons exist at 0 from the start.
    const byEndpoint = Object.fromEntries(samples(m, 'mtls_gateway_upstream_tls_handshake_failures_total').filter((s) => s.value !== 0).map((s) => [s.labels.endpoint, s.labels.reason]))
    expect(byEndpoint['wrong-purpose']).toBe('upstream_cert_wrong_purpose')
    expect(byEndpoint['path-length']).toBe('upstream_cert_untrusted')
    expect(byEndpoint['wrong-name']).toBe('upstream_hostname_mismatch')
    expect(byEndpoint['crl-expired']).toBeUndefined()
  })
})
