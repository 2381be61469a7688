/**
 * A throw-away PKI per test file: root → intermediate → server + client, written to a
 * temp dir, plus helpers to issue the bad certificates the error tests need.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issueCertificate, privateKeyPem, type Issued, type IssueOptions, type KeyFormat, type KeyKind } from '../../src/tls/index.js'

export interface TestPki {
  dir: string
  root: Issued
  inter: Issued
  server: Issued
  client: Issued
  /** Files: root.crt, inter.crt, server.crt (leaf only), server-chain.crt (leaf+inter), server.key, client.crt, client.key */
  file(name: string): string
  write(name: string, text: string): string
  issue(o: IssueOptions): Promise<Issued>
  /** Writes cert (+ optional chain) and key files for an issued cert, returns their paths. */
  writePair(base: string, issued: Issued, o?: { chain?: Issued[]; format?: KeyFormat; passphrase?: string }): { cert: string; key: string }
  cleanup(): void
}

export const DEFAULT_SERVER_NAMES = ['localhost', '127.0.0.1', 'api.partner.test']

/** Creates the PKI; `kind` picks the key type of every certificate. */
export async function createTestPki(kind: KeyKind = 'p256', serverNames: string[] = DEFAULT_SERVER_NAMES): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-pki-'))
  const root = await issueCertificate({ subject: 'CN=Test Root CA,O=mtls-gateway tests', kind, ca: true })
  const inter = await issueCertificate({ subject: 'CN=Test Intermediate CA,O=mtls-gateway tests', issuer: root, ca: true, pathLength: 0 })
  const server = await issueCertificate({ subject: 'CN=api.partner.test', issuer: inter, usages: ['serverAuth'], names: serverNames })
  const client = await issueCertificate({ subject: 'CN=bot-runtime,O=mtls-gateway tests', issuer: inter, usages: ['clientAuth'] })
  const pki = testPkiIn(dir, { root, inter, server, client })
  pki.write('root.crt', root.pem)
  pki.write('inter.crt', inter.pem)
  pki.writePair('server', server)
  pki.write('server-chain.crt', server.pem + inter.pem)
  pki.writePair('client', client)
  return pki
}

/** An endpoint's `tls` files: the PKI's client leaf and key, its intermediate and its root. */
export type ClientTls = { cert: string; key: string; intermediates: string; roots: string }

/** The endpoint `tls` bundle most tests configure: the client certificate of `pki` (any TestPki). */
export function clientTls(pki: Pick<TestPki, 'file'>): ClientTls {
  return { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
}

/**
 * A client bundle the test servers cannot chain: its certificate comes from a root of its own, named
 * in `clientRoots` (so the gateway's own chain check passes) and trusted by no server here, and the
 * handshake presents the leaf alone (a self-signed root is never sent) — what a server sees of a
 * client that leaves out its intermediate. The gateway itself cannot be made to leave one out: it
 * presents every CA of the chain it built short of a self-signed root.
 */
export async function strangerClientTls(pki: Pick<TestPki, 'issue' | 'writePair' | 'write' | 'file'>): Promise<{ cert: string; key: string; clientRoots: string; roots: string }> {
  const root = await pki.issue({ subject: 'CN=Stranger Root CA,O=mtls-gateway tests', ca: true })
  const client = await pki.issue({ subject: 'CN=bot-runtime,O=mtls-gateway tests', issuer: root, usages: ['clientAuth'] })
  return { ...pki.writePair('stranger-client', client), clientRoots: pki.write('stranger-root.crt', root.pem), roots: pki.file('root.crt') }
}

/** A test server's files from `pki`: the server chain and key, and the root its clients' certificates reach. */
export function verifyingFiles(pki: Pick<TestPki, 'file'>): { cert: string; key: string; clientCa: string } {
  return { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), clientCa: pki.file('root.crt') }
}

/** clientTls as a YAML flow mapping (`{ cert: …, key: …, intermediates: …, roots: … }`), for configs written as text. */
export function clientTlsYaml(pki: Pick<TestPki, 'file'>): string {
  return `{ ${Object.entries(clientTls(pki)).map(([k, v]) => `${k}: ${v}`).join(', ')} }`
}

/** The TestPki view of a directory whose base files (root.crt … client.key) are, or will be, written. */
export function testPkiIn(dir: string, certs: { root: Issued; inter: Issued; server: Issued; client: Issued }): TestPki {
  const { root, inter, server, client } = certs
  const file = (name: string): string => join(dir, name)
  const write = (name: string, text: string): string => {
    writeFileSync(file(name), text, { mode: 0o600 })
    return file(name)
  }
  const pki: TestPki = {
    dir, root, inter, server, client, file, write,
    issue: (o) => issueCertificate(o),
    writePair(base, issued, o = {}) {
      const cert = write(`${base}.crt`, issued.pem + (o.chain ?? []).map((c) => c.pem).join(''))
      const key = write(`${base}.key`, privateKeyPem(issued, o.format ?? 'pkcs8', o.passphrase))
      return { cert, key }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
  return pki
}
