/**
 * The same throw-away PKI as createTestPki (same files, same names), but minted by the real
 * `openssl` CLI, so tests that use it do not check the gateway's X.509 code against itself.
 * The certificates are then loaded as `Issued`, so `pki.issue({ issuer: pki.inter })` still
 * works for the extra certificates a test needs. Subjects keep the same RDN order (CN first).
 */
import { execFileSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import 'reflect-metadata' // @peculiar/x509 needs it loaded first (as src/tls/pki.ts does)
import * as x509 from '@peculiar/x509'
import type { Issued } from '../../src/tls/index.js'
import { DEFAULT_SERVER_NAMES, testPkiIn, type TestPki } from './pki.js'

type OpensslKind = 'p256' | 'rsa2048'
const NEWKEY: Record<OpensslKind, string[]> = { p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], rsa2048: ['-newkey', 'rsa:2048'] }
const ALGORITHM: Record<OpensslKind, webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams> = {
  p256: { name: 'ECDSA', namedCurve: 'P-256' },
  rsa2048: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
}
const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n'
const LEAF_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'

/** Loads an openssl-made certificate and key as the `Issued` the gateway's PKI helpers take. */
async function loadIssued(certFile: string, keyFile: string, kind: OpensslKind): Promise<Issued> {
  const pem = readFileSync(certFile, 'utf8')
  const key = createPrivateKey(readFileSync(keyFile))
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), ALGORITHM[kind], true, ['sign'])
  const publicKey = await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), ALGORITHM[kind], true, ['verify'])
  return { cert: new x509.X509Certificate(pem), keys: { privateKey, publicKey }, kind, pem }
}

/** Root → intermediate → server + client, every certificate and key made by `openssl`. */
export async function createOpensslTestPki(kind: OpensslKind = 'p256', serverNames: string[] = DEFAULT_SERVER_NAMES): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-openssl-pki-'))
  const f = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ext = (name: string, text: string): string => (writeFileSync(f(name), text), f(name))
  const sign = (name: string, subject: string, issuer: string, extFile: string): void => {
    openssl('req', '-new', ...NEWKEY[kind], '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject)
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.crt`), '-CAkey', f(`${issuer}.key`), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', extFile, '-out', f(`${name}.crt`))
  }
  openssl('req', '-x509', ...NEWKEY[kind], '-nodes', '-keyout', f('root.key'), '-out', f('root.crt'), '-days', '2', '-sha256',
    '-subj', '/CN=Test Root CA/O=mtls-gateway tests', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  sign('inter', '/CN=Test Intermediate CA/O=mtls-gateway tests', 'root', ext('inter.ext', CA_EXT.replace('CA:TRUE', 'CA:TRUE,pathlen:0') + 'authorityKeyIdentifier=keyid\n'))
  const san = serverNames.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
  sign('server', '/CN=api.partner.test', 'inter', ext('server.ext', `${LEAF_EXT}extendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`))
  sign('client', '/CN=bot-runtime/O=mtls-gateway tests', 'inter', ext('client.ext', `${LEAF_EXT}extendedKeyUsage=clientAuth\n`))
  writeFileSync(f('server-chain.crt'), readFileSync(f('server.crt'), 'utf8') + readFileSync(f('inter.crt'), 'utf8'))
  const [root, inter, server, client] = await Promise.all(['root', 'inter', 'server', 'client'].map((n) => loadIssued(f(`${n}.crt`), f(`${n}.key`), kind)))
  return testPkiIn(dir, { root: root as Issued, inter: inter as Issued, server: server as Issued, client: client as Issued })
}
