/**
 * A bundle given as `dir` (a Kubernetes TLS Secret: tls.crt, tls.key, ca.crt) has its problems named
 * at `tls.dir`, the key the config has, at its line, with the file at fault: the folder's `ca.crt`
 * (when `roots` is not given) was named at `roots`, and its tls.crt and tls.key at `cert` and `key`,
 * keys the config does not have (`check` placed them at the nearest line it found). A fault of the
 * roots' dates likewise. `roots` given beside `dir` keeps its own key.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

/** A Secret folder `name` with tls.crt (client + intermediate), tls.key and `ca`, and a config of one endpoint reading it, `more` after `dir`. */
function secret(name: string, files: { ca: string; key?: string }, more = ''): { dir: string; config: string } {
  const dir = join(pki.dir, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'tls.crt'), pki.client.pem + pki.inter.pem)
  writeFileSync(join(dir, 'tls.key'), files.key ?? readFileSync(pki.file('client.key'), 'utf8'))
  writeFileSync(join(dir, 'ca.crt'), files.ca)
  const config = pki.write(`${name}.yaml`, `endpoints:\n  - name: ${name}\n    url: https://api.partner.test:8443\n    tls:\n      dir: ${dir}\n${more}`)
  return { dir, config }
}

/** check's problem lines. */
const problems = (config: string): string[] => runCheck(config).output.trim().split('\n').slice(2, -1)

describe('a bundle given as dir: problems at tls.dir, naming the file', () => {
  it("ca.crt that holds no certificate, or a leaf: at tls.dir's line, naming ca.crt (was at roots, a key the config does not have)", () => {
    const empty = secret('empty-ca', { ca: 'not a certificate\n' })
    expect(problems(empty.config)).toEqual([
      `${empty.config}:5:12: endpoints[0].tls.dir: ${join(empty.dir, 'ca.crt')}: endpoint "empty-ca": no PEM certificate found`,
      `${empty.config}:5:12: endpoints[0].tls.dir: ${join(empty.dir, 'tls.crt')}: endpoint "empty-ca": chain does not build to a configured root: no issuer found for "CN=Test Intermediate CA, O=mtls-gateway tests" (issued by "CN=Test Root CA, O=mtls-gateway tests"); add the missing intermediate, or its root to tls.roots or tls.clientRoots`,
    ])
    const leaf = secret('leaf-ca', { ca: pki.root.pem + pki.server.pem })
    expect(problems(leaf.config)).toEqual([
      `${leaf.config}:5:12: endpoints[0].tls.dir: ${join(leaf.dir, 'ca.crt')}: endpoint "leaf-ca": certificate #2 "CN=api.partner.test" is not a CA certificate (basicConstraints CA:FALSE or absent): it anchors nothing (and is not self-signed, to be trusted as itself); a client or server certificate does not belong in this file`,
    ])
  })

  it('tls.key that does not match tls.crt: at tls.dir, naming tls.key', () => {
    const s = secret('stranger-key', { ca: pki.root.pem, key: readFileSync(pki.file('server.key'), 'utf8') })
    expect(problems(s.config)).toEqual([`${s.config}:5:12: endpoints[0].tls.dir: ${join(s.dir, 'tls.key')}: endpoint "stranger-key": private key does not match the client certificate "CN=bot-runtime, O=mtls-gateway tests"`])
  })

  it("ca.crt's roots none valid now: at tls.dir (the client chain anchored by clientRoots)", async () => {
    const old = await issueExpiredRoot()
    const s = secret('expired-ca', { ca: old }, `      clientRoots: [${pki.file('root.crt')}]\n`)
    const lines = problems(s.config)
    expect(lines.map((l) => l.replace(/: no server root is valid now: .*/, ': no server root is valid now'))).toEqual([`${s.config}:5:12: endpoints[0].tls.dir: ${join(s.dir, 'ca.crt')}: endpoint "expired-ca": no server root is valid now`])
  })

  it('roots given beside dir: its problems stay at roots', () => {
    const s = secret('own-roots', { ca: pki.root.pem }, `      roots: [${pki.write('own-roots-empty.crt', 'nothing\n')}]\n`)
    expect(problems(s.config)[0]).toBe(`${s.config}:6:14: endpoints[0].tls.roots: ${pki.file('own-roots-empty.crt')}: endpoint "own-roots": no PEM certificate found`)
  })
})

/** A self-signed CA whose validity ended yesterday, as PEM. */
async function issueExpiredRoot(): Promise<string> {
  const { issueCertificate } = await import('../../src/tls/index.js')
  const day = 86_400_000
  const issued = await issueCertificate({ subject: 'CN=Expired Server Root', ca: true, notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) })
  return issued.pem
}
