/**
 * The console's draft validator says what `mtls-gateway check` says about the same file: both
 * read the bundles and the listeners' certificates, so a listener key that does not match its
 * certificate is a problem in both, in the same words.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const yamlWith = (listenerKey: string): string =>
  `listen: { port: 0, tls: { cert: ${pki.file('server-chain.crt')}, key: ${listenerKey} } }\nadmin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`

describe('the draft validator and check', () => {
  it('report the same problems: a listener key of another certificate, in the same words', () => {
    const file = join(pki.dir, 'gateway.yaml')
    writeFileSync(file, yamlWith(pki.file('server.key')))
    const current = loadConfig(file)
    expect(runCheck(file).ok).toBe(true)
    expect(validateDraft(file, yamlWith(pki.file('server.key')), current)).toMatchObject({ ok: true, problems: [] })
    const bad = yamlWith(pki.file('client.key'))
    writeFileSync(file, bad)
    const check = runCheck(file)
    const draft = validateDraft(file, bad, current)
    const line = `${pki.file('client.key')}: listen.tls: private key does not match the certificate in ${pki.file('server-chain.crt')}`
    expect(check.ok).toBe(false)
    expect(check.output.split('\n').filter((l) => l.startsWith(pki.dir))).toEqual([line])
    expect(draft.ok).toBe(false)
    expect(draft.problems.map((p) => p.text)).toEqual([line])
  })
})
