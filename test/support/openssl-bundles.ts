/**
 * Client bundles minted by the real `openssl` CLI, judged twice: by `openssl s_server -Verify
 * -verify_return_error` in a handshake (what an OpenSSL server such as nginx with
 * ssl_verify_client decides) and by `check`, over a PKI of `openssl`'s made before the file's
 * tests and removed, with the s_server peers started, after them.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:tls'
import { afterAll, beforeAll } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { createOpensslTestPki } from './openssl-pki.js'
import { startOpensslServer, type Peer } from './peers.js'
import type { TestPki } from './pki.js'

export const CA_EXTENSIONS = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'
export const CLIENT_EXTENSIONS = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'

export interface OpensslBundles {
  /** `name`.crt and .key: a new `kind` key, certified by `issuer` (or self-signed) with the extensions `ext`. */
  mint(name: string, issuer: string | undefined, ext: string, kind?: 'ec' | 'rsa'): string
  /** The chain `files` (leaf first) in one file, as `cert` takes it. */
  chainFile(name: string, files: string[]): string
  /** `openssl s_server` requiring a client certificate verified against `caFile` (`-Verify verifyDepth`, default 2); stopped by stopServers. */
  sServer(caFile: string, verifyDepth?: number): Promise<Peer>
  /** A handshake with `server` presenting `certFile` (leaf + chain) and an HTTP request: the status line, or the client's error. */
  handshake(server: Peer, certFile: string, keyFile: string): Promise<string>
  /** `check` on one endpoint with `tls`: its verdict and the problem lines after the table. */
  check(name: string, tls: Record<string, string>): { ok: boolean; problems: string[] }
  /** The PKI (root, intermediate, server and client certificates; minted ones beside them). */
  pki(): TestPki
}

export function useOpensslBundles(): OpensslBundles {
  let made: TestPki | undefined
  const servers: Peer[] = []
  beforeAll(async () => {
    made = await createOpensslTestPki('p256')
  })
  afterAll(async () => {
    for (const s of servers.splice(0)) await s.stop()
    made?.cleanup()
  })
  const pkiOf = (): TestPki => made as TestPki
  /** An openssl req config whose [v3] section is `ext` (a self-signed certificate with exactly these extensions). */
  const configWith = (name: string, ext: string): string => pkiOf().write(`${name}.cnf`, `[req]\ndistinguished_name = dn\n[dn]\n[v3]\n${ext}subjectKeyIdentifier=hash\n`)
  return {
    mint(name, issuer, ext, kind = 'ec') {
      const pki = pkiOf()
      const f = pki.file
      const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: pki.dir, stdio: 'pipe' })
      const newkey = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048']
      writeFileSync(f(`${name}.ext`), ext)
      if (!issuer) {
        openssl('req', '-x509', ...newkey, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`, '-extensions', 'v3', '-config', configWith(name, ext))
        return f(`${name}.crt`)
      }
      openssl('req', '-new', ...newkey, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`)
      openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.crt`), '-CAkey', f(`${issuer}.key`), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`))
      return f(`${name}.crt`)
    },
    chainFile(name, files) {
      return pkiOf().write(`${name}-chain.crt`, files.map((file) => readFileSync(file, 'utf8')).join(''))
    },
    async sServer(caFile, verifyDepth) {
      const pki = pkiOf()
      const server = await startOpensslServer({ cert: pki.file('server.crt'), key: pki.file('server.key'), chain: pki.file('inter.crt'), caFile, ...(verifyDepth === undefined ? {} : { verifyDepth }) })
      servers.push(server)
      return server
    },
    handshake(server, certFile, keyFile) {
      return new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(pkiOf().file('root.crt')), servername: 'api.partner.test' })
        let answer = ''
        socket.on('secureConnect', () => socket.write('GET / HTTP/1.0\r\n\r\n'))
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')))
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
        socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''))
      })
    },
    check(name, tls) {
      const config = pkiOf().write(`${name}.yaml`, `endpoints:\n  - name: ${name}\n    url: https://api.partner.test:8443\n    tls: ${JSON.stringify(tls)}\n`)
      const r = runCheck(config)
      return { ok: r.ok, problems: r.output.trim().split('\n').slice(2, -1).map((l) => l.replace(/^\S+:\d+:\d+: /, '')) }
    },
    pki: pkiOf,
  }
}
