/**
 * A PKCS#12 bundle's other certificates are the chain presented after its leaf: a certificate
 * among them that is not a CA (CA:FALSE or no basicConstraints) issues nothing, as after the leaf
 * of a PEM cert file or in `intermediates`, and is refused in the same words by check, a start and
 * a reload (which keeps the last good config). The PKCS#12 files are made by `openssl pkcs12`.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { loadBundle } from '../../src/tls/index.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

const PASS = 'p12 pass'
let pki: TestPki
let g: OpsGateway | undefined
const p12 = { good: '', leafInChain: '' }

/** `openssl pkcs12 -export` of the client key and certificate, with `certfile` as its other certificates. */
function pkcs12(out: string, certfile: string): string {
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', pki.file('client.key'), '-in', pki.file('client.crt'), '-certfile', certfile, '-passout', `pass:${PASS}`, '-out', out], { stdio: 'pipe' })
  return out
}

const yaml = (file: string, admin = 'admin: { enabled: false }\n'): string => `${admin}endpoints:\n${endpointYaml('partner', 8443, { pkcs12: file, pkcs12Passphrase: PASS, roots: pki.file('root.crt') })}`

beforeAll(async () => {
  pki = await createTestPki('p256')
  p12.good = pkcs12(join(pki.dir, 'good.p12'), pki.file('inter.crt'))
  // The server's certificate (a leaf, CA:FALSE) packed beside the intermediate.
  p12.leafInChain = pkcs12(join(pki.dir, 'leaf-in-chain.p12'), pki.write('inter-and-server.crt', pki.inter.pem + pki.server.pem))
})
afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

const NOT_CA = 'certificate #3 "CN=api.partner.test" is not a CA certificate (basicConstraints CA:FALSE or absent): it cannot issue the certificate before it; a client or server certificate does not belong in this file'

describe('PKCS#12: certificates besides the leaf must be CAs', () => {
  it('loadBundle refuses a leaf among the other certificates, naming the file; the intermediate alone passes', () => {
    const tls = (pkcs12: string) => ({ pkcs12, pkcs12Passphrase: PASS, roots: [pki.file('root.crt')], intermediates: [], clientRoots: [], systemRoots: false, minVersion: 'TLSv1.2' as const, pins: [], crl: [] })
    expect(loadBundle(tls(p12.good)).problems).toEqual([])
    expect(loadBundle(tls(p12.leafInChain)).problems.map((p) => `${p.file}: ${p.field}: ${p.msg}`)).toEqual([`${p12.leafInChain}: pkcs12: ${NOT_CA}`])
  })

  it('the Kubernetes TLS Secret layout (tls.dir) gets the roots rule for its ca.crt, and the chain rule for tls.crt (coverage: refused before this change too)', () => {
    const dir = join(pki.dir, 'secret')
    execFileSync('mkdir', ['-p', dir])
    writeFileSync(join(dir, 'tls.crt'), pki.client.pem + pki.inter.pem + pki.server.pem)
    writeFileSync(join(dir, 'tls.key'), readFileSync(pki.file('client.key')))
    writeFileSync(join(dir, 'ca.crt'), pki.root.pem + pki.server.pem)
    const found = loadBundle({ dir, intermediates: [], roots: [], clientRoots: [], systemRoots: false, minVersion: 'TLSv1.2', pins: [], crl: [] }).problems.map((p) => `${p.file}: ${p.field}: ${p.msg}`)
    expect(found).toEqual([
      // At `dir`, the key the config names these files by (they were at cert and roots).
      `${join(dir, 'tls.crt')}: dir: ${NOT_CA}`,
      `${join(dir, 'ca.crt')}: dir: certificate #2 "CN=api.partner.test" is not a CA certificate (basicConstraints CA:FALSE or absent): it anchors nothing (and is not self-signed, to be trusted as itself); a client or server certificate does not belong in this file`,
    ])
  })

  it('check and a start refuse it in the same words', async () => {
    const dir = join(pki.dir, 'start')
    execFileSync('mkdir', ['-p', dir])
    writeFileSync(join(dir, 'gateway.yaml'), yaml(p12.leafInChain))
    const check = runCheck(join(dir, 'gateway.yaml'))
    const line = check.output.split('\n').find((l) => l.includes(NOT_CA))
    expect(line, check.output).toBeDefined()
    expect(line).toContain(p12.leafInChain)
    await expect(startTestGateway(dir, yaml(p12.leafInChain))).rejects.toThrow(NOT_CA)
  })

  it('a reload refuses it in the same words and keeps the last good config; putting the good file back reloads', async () => {
    const dir = join(pki.dir, 'reload')
    execFileSync('mkdir', ['-p', dir])
    const file = join(dir, 'client.p12')
    const put = (from: string): void => {
      writeFileSync(`${file}.tmp`, readFileSync(from), { mode: 0o600 })
      renameSync(`${file}.tmp`, file)
    }
    put(p12.good)
    g = await startOpsGateway(dir, yaml(file, ''))
    const gw = g
    const good = gw.gw.ref.current
    const from = gw.lines.length
    put(p12.leafInChain)
    const failed = (): string[] | undefined => gw.lines.slice(from).map((l) => JSON.parse(l) as { msg: string; problems?: string[] })
      .find((e) => e.msg === 'config reload failed; keeping the last good config')?.problems
    const problems = await eventually(failed, 20_000, 'the reload refusing the PKCS#12')
    expect(problems).toEqual([expect.stringContaining(NOT_CA)])
    expect(problems?.[0]).toContain(file)
    expect(gw.gw.ref.current).toBe(good)
    expect(runCheck(join(dir, 'gateway.yaml')).output).toContain(`\n${problems?.[0]}\n`)
    put(p12.good)
    await eventually(() => gw.gw.ref.current !== good, 20_000, 'the reload after the good PKCS#12 is back')
  })
})
