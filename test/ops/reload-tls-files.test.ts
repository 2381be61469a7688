/**
 * A reload refuses TLS files that do not hold what their key needs, as a start and `check` do,
 * in the same words, and keeps the last good config: a `tracing.otlp.tls.key` that does not
 * match its certificate (the exporter would fail only when it connects, dropping spans), and a
 * `listen.tls.clientCa` with no certificate (Node would load it and trust no caller certificate), or
 * with a leaf certificate (CA:FALSE) in it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { privateKeyPem } from '../../src/tls/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { eventually, replaceFile, startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let g: OpsGateway
const files = { clientCa: '', otlpCert: '', otlpKey: '' }

beforeAll(async () => {
  pki = await createTestPki()
  files.clientCa = pki.write('listener-client-ca.crt', pki.root.pem)
  files.otlpCert = pki.write('otlp-client.crt', pki.client.pem + pki.inter.pem)
  files.otlpKey = pki.write('otlp-client.key', privateKeyPem(pki.client))
  // No collector listens: export fails in the background, which a start and a reload never wait for.
  g = await startOpsGateway(pki.dir, `listen: { tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')}, clientCa: ${files.clientCa} } }\n` +
    `tracing:\n  enabled: true\n  otlp: { endpoint: "https://127.0.0.1:1/v1/traces", tls: { ca: ${pki.file('root.crt')}, cert: ${files.otlpCert}, key: ${files.otlpKey} } }\n` +
    `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`)
})
afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

/** The problems of the first failed reload that names `key`, logged at line `from` or later. */
function failedReload(key: string, from: number): string[] | undefined {
  const entries = g.lines.slice(from).map((l) => JSON.parse(l) as { msg: string; problems?: string[] })
  return entries.find((e) => e.msg === 'config reload failed; keeping the last good config' && e.problems?.some((p) => p.includes(`: ${key}: `)))?.problems
}

describe('reload: TLS files that cannot work are refused, the last good config stays', () => {
  it('a tracing.otlp.tls.key of another certificate, then a listen.tls.clientCa with no certificate, then one with a leaf in it', async () => {
    const config = join(pki.dir, 'gateway.yaml')
    // Each at its key's line and column in the config, naming the file (before: the file's name in place of the config's, no line).
    const at = (file: string): string => {
      const before = readFileSync(config, 'utf8').split(file)[0]?.split('\n') ?? []
      return `${config}:${before.length}:${(before[before.length - 1] ?? '').length + 1}`
    }
    const cases = [
      { file: files.otlpKey, text: readFileSync(pki.file('server.key'), 'utf8'), key: 'tracing.otlp.tls.key', problem: `${at(files.otlpKey)}: tracing.otlp.tls.key: ${files.otlpKey}: private key does not match the certificate in ${files.otlpCert}` },
      { file: files.clientCa, text: '', key: 'listen.tls.clientCa', problem: `${at(files.clientCa)}: listen.tls.clientCa: ${files.clientCa}: no PEM certificate found` },
      // A caller's own certificate pasted into the CA file (CA:FALSE, not self-signed): it anchors nothing.
      { file: files.clientCa, text: pki.root.pem + pki.client.pem, key: 'listen.tls.clientCa', problem: `${at(files.clientCa)}: listen.tls.clientCa: ${files.clientCa}: certificate #2 "CN=bot-runtime, O=mtls-gateway tests" is not a CA certificate (basicConstraints CA:FALSE or absent): it anchors nothing (and is not self-signed, to be trusted as itself); a client or server certificate does not belong in this file` },
    ]
    for (const c of cases) {
      const good = g.gw.ref.current
      const before = readFileSync(c.file, 'utf8')
      const from = g.lines.length
      replaceFile(c.file, c.text)
      const problems = await eventually(() => failedReload(c.key, from), 20_000, `the reload refusing ${c.key}`)
      expect(problems).toEqual([c.problem])
      expect(g.gw.ref.current).toBe(good)
      // The same words from check.
      expect(runCheck(config).output).toContain(`\n${c.problem}\n`)
      // Put back: the next reload succeeds.
      replaceFile(c.file, before)
      await eventually(() => g.gw.ref.current !== good, 20_000, `the reload after ${c.key} is put back`)
    }
  })
})
