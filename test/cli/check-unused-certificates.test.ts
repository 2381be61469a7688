/**
 * Certificates a bundle holds that its client chain does not use — an intermediate of another
 * chain in `intermediates` or after the client certificate, a `clientRoots` certificate that is
 * not the root the chain reaches — are harmless to the handshake (they are not sent, or not
 * used) but usually a leftover of a rotation or the wrong client certificate: `check` prints a
 * warning line at the key (it still passes), and a start and each accepted reload log the same
 * words. `check` once said nothing of them, and neither did a start. A root appended after the
 * chain in `cert` is the chain's own and is not named.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { eventually, replaceFile, startOpsGateway } from '../ops/helpers.js'

let pki: TestPki
const WARN = { inter: '', root: '', rootAfter: '' }
beforeAll(async () => {
  pki = await createTestPki()
  const otherRoot = await pki.issue({ subject: 'CN=Other Root', ca: true })
  const otherInter = await pki.issue({ subject: 'CN=Other Intermediate', issuer: otherRoot, ca: true, pathLength: 0 })
  pki.write('inters.crt', pki.inter.pem + otherInter.pem)
  pki.write('client-roots.crt', otherRoot.pem)
  // The chain's own root appended in `cert`: used (it is the root reached), so not named.
  pki.write('client-full.crt', pki.client.pem + pki.inter.pem + pki.root.pem)
  const path = '("CN=bot-runtime, O=mtls-gateway tests" → "CN=Test Intermediate CA, O=mtls-gateway tests" → "CN=Test Root CA, O=mtls-gateway tests")'
  // At the key's line and column in the config, naming the bundle file (before: that file's name in place of the config's, no line).
  const config = join(pki.dir, 'gateway.yaml')
  const at = (file: string, intermediates = pki.file('inters.crt')): string => `${config}:5:${yaml(intermediates).split('\n')[4]?.indexOf(file) as number + 1}`
  WARN.inter = `${at(pki.file('inters.crt'))}: endpoints[0].tls.intermediates: warning: ${pki.file('inters.crt')}: endpoint "partner": certificate #2 "CN=Other Intermediate" is not in the client certificate's chain ${path}: it is not sent; remove it, or check that the client certificate is the one meant`
  WARN.root = `${at(pki.file('client-roots.crt'))}: endpoints[0].tls.clientRoots: warning: ${pki.file('client-roots.crt')}: endpoint "partner": certificate #1 "CN=Other Root" is not the root the client certificate's chain reaches ${path}: it is not used; remove it`
  // After the reload to inter.crt, one character shorter before it on the line.
  WARN.rootAfter = WARN.root.replace(at(pki.file('client-roots.crt')), at(pki.file('client-roots.crt'), pki.file('inter.crt')))
})
afterAll(() => pki?.cleanup())

const yaml = (intermediates: string): string =>
  `admin: { port: 0 }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client-full.crt')}, key: ${pki.file('client.key')}, intermediates: ${intermediates}, roots: ${pki.file('root.crt')}, clientRoots: ${pki.file('client-roots.crt')} }\n`

describe('bundle certificates the client chain does not use', () => {
  it('check passes with one warning line each; a start and an accepted reload log the same words', async () => {
    const g = await startOpsGateway(pki.dir, yaml(pki.file('inters.crt')))
    try {
      const check = runCheck(join(pki.dir, 'gateway.yaml'))
      expect(check.ok).toBe(true)
      expect(check.output.split('\n').filter((l) => l.includes('warning:'))).toEqual([WARN.inter, WARN.root])
      const warned = (from: number): string[] =>
        g.lines
          .slice(from)
          .map((l) => JSON.parse(l) as { level: string; msg: string; key?: string; file?: string; line?: number; column?: number })
          .filter((e) => e.key?.startsWith('endpoints[0].tls.') && e.level === 'warn')
          .map((e) => `${e.file ?? ''}:${e.line ?? ''}:${e.column ?? ''}: ${e.key ?? ''}: warning: ${e.msg}`)
      expect(warned(0)).toEqual([WARN.inter, WARN.root])
      // A reload to the intermediate alone: accepted, and only the clientRoots one is said.
      const from = g.lines.length
      const before = g.gw.ref.current
      replaceFile(join(pki.dir, 'gateway.yaml'), yaml(pki.file('inter.crt')))
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload')
      expect(warned(from)).toEqual([WARN.rootAfter])
    } finally {
      await g.gw.close()
    }
  })
})
