/**
 * After a reload replaces listen.tls.clientCa, a caller certificate on a connection opened before
 * it is judged as a fresh handshake under the new file judges it: by OpenSSL's whole verification,
 * not names, signatures and dates alone. The new file here re-issues the caller chain's root (same
 * name, same key: every signature still verifies) with what OpenSSL refuses in an anchor — a
 * pathlen the intermediate below it exceeds, a key usage without keyCertSign, an extended key usage
 * without clientAuth, CA:FALSE — or holds the intermediate alone (OpenSSL builds to a self-signed
 * anchor; the listener allows no partial chain), or the intermediate over the pathlen root. For
 * each, a fresh connection with the certificate is the reference (it is not identified: 401), and
 * the connection opened before the reload must answer the same; the open connections were still
 * served (200). A root re-issued with sound extensions, or as a v1 certificate (no extensions,
 * which OpenSSL takes as an anchor), keeps both served. Every certificate is minted by the
 * `openssl` CLI.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exchange } from '../support/exchange.js'
import { createOpensslTestPki } from '../support/openssl-pki.js'
import { clientTls, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
const CA = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'

/** `name`.crt certified by the caller root's key (self-signed, same name) or by `issuer`, with the extensions `ext`. */
function mint(name: string, ext: string, issuer?: string): string {
  const f = pki.file
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: pki.dir, stdio: 'pipe' })
  pki.write(`${name}.ext`, ext)
  if (issuer === undefined) {
    pki.write(`${name}.cnf`, `[req]\ndistinguished_name = dn\n[dn]\n[v3]\n${ext}subjectKeyIdentifier=hash\n`)
    openssl('req', '-x509', '-new', '-key', f('caller-root.key'), '-out', f(`${name}.crt`), '-days', '2', '-subj', '/CN=Caller Root', '-extensions', 'v3', '-config', f(`${name}.cnf`))
    return readFileSync(f(`${name}.crt`), 'utf8')
  }
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`))
  openssl('req', '-new', '-key', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`)
  openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.crt`), '-CAkey', f(`${issuer}.key`), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`))
  return readFileSync(f(`${name}.crt`), 'utf8')
}

/** The caller root re-issued as X.509 v1 (`openssl x509 -req` without extensions writes v1). */
function v1Root(): string {
  const f = pki.file
  execFileSync('openssl', ['req', '-new', '-key', f('caller-root.key'), '-out', f('root-v1.csr'), '-subj', '/CN=Caller Root'], { stdio: 'pipe' })
  execFileSync('openssl', ['x509', '-req', '-in', f('root-v1.csr'), '-signkey', f('caller-root.key'), '-days', '2', '-out', f('root-v1.crt')], { stdio: 'pipe' })
  return readFileSync(f('root-v1.crt'), 'utf8')
}

const clientCa = (): string => pki.file('client-ca.pem')

beforeAll(async () => {
  pki = await createOpensslTestPki('p256')
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', pki.file('caller-root.key')])
  pki.write('client-ca.pem', mint('caller-root', CA))
  mint('caller-inter', CA, 'caller-root')
  mint('caller', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n', 'caller-inter')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  g = await startOpsGateway(pki.dir, `listen:
  host: 127.0.0.1
  port: 0
  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')}, clientCa: ${clientCa()} }
store: { kind: sqlite, file: ${pki.file('gw.db')} }
callers:
  apps:
    - { clientId: cert-app, audience: aud, endpoints: [partner], clientCertificate: { subject: caller } }
endpoints:
${endpointYaml('partner', upstream.port, clientTls(pki))}`)
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** TLS to the gateway presenting the caller certificate and its intermediate. */
function callerConnection(): Promise<TLSSocket> {
  const cert = readFileSync(pki.file('caller.crt'), 'utf8') + readFileSync(pki.file('caller-inter.crt'), 'utf8')
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: g.gw.port, servername: 'localhost', ca: readFileSync(pki.file('root.crt')), cert, key: readFileSync(pki.file('caller.key')) }, () => resolve(s))
    s.once('error', reject)
  })
}

const routed = async (s: TLSSocket, path: string): Promise<number> => (await exchange(s, `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`)).status

/** The status a fresh connection with the caller certificate gets for one request under the config in force. */
async function freshStatus(path: string): Promise<number> {
  const fresh = await callerConnection()
  try {
    return await routed(fresh, path)
  } finally {
    fresh.destroy()
  }
}

/** Reloads with `pem` as the client CA file. */
async function reloadClientCa(pem: string): Promise<void> {
  replaceFile(clientCa(), pem)
  expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
}

describe('a reload that replaces listen.tls.clientCa judges open connections\' caller certificates as a fresh handshake would', () => {
  const REFUSED = 401
  const SERVED = 200
  const cases = [
    { name: 'root re-issued with pathlen:0 (the intermediate exceeds it)', status: REFUSED, pem: () => mint('root-pathlen0', CA.replace('CA:TRUE', 'CA:TRUE,pathlen:0')) },
    { name: 'root re-issued with a key usage without keyCertSign', status: REFUSED, pem: () => mint('root-no-certsign', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,cRLSign\n') },
    { name: 'root re-issued with an extended key usage without clientAuth', status: REFUSED, pem: () => mint('root-server-eku', `${CA}extendedKeyUsage=serverAuth\n`) },
    { name: 'root re-issued with CA:FALSE', status: REFUSED, pem: () => mint('root-ca-false', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign,cRLSign\n') },
    { name: 'the intermediate alone (no self-signed anchor)', status: REFUSED, pem: () => readFileSync(pki.file('caller-inter.crt'), 'utf8') },
    { name: 'the intermediate over the pathlen:0 root', status: REFUSED, pem: () => readFileSync(pki.file('caller-inter.crt'), 'utf8') + mint('root-pathlen0-b', CA.replace('CA:TRUE', 'CA:TRUE,pathlen:0')) },
    { name: 'root re-issued with sound extensions', status: SERVED, pem: () => mint('root-renewed', CA) },
    { name: 'root re-issued as a self-signed v1 certificate (no extensions, a CA to OpenSSL as an anchor)', status: SERVED, pem: v1Root },
  ]
  for (const c of cases) {
    it(`${c.name}: the open connection is ${c.status === SERVED ? 'served' : 'refused'}, as a fresh one is`, async () => {
      const original = readFileSync(pki.file('caller-root.crt'), 'utf8')
      const open = await callerConnection()
      try {
        expect(await routed(open, '/before')).toBe(SERVED)
        await reloadClientCa(c.pem())
        // The reference: a fresh handshake with the new file.
        expect(await freshStatus('/fresh')).toBe(c.status)
        expect(await routed(open, '/after')).toBe(c.status)
      } finally {
        open.destroy()
        await reloadClientCa(original)
      }
    })
  }
})
