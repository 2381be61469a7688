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
import { adoptConfig, restartBaseline } from '../../src/runtime/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const yamlWith = (listenerKey: string): string =>
  `listen: { port: 0, tls: { cert: ${pki.file('server-chain.crt')}, key: ${listenerKey} } }\nadmin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: ${clientTlsYaml(pki)}\n`

describe('the draft validator and check', () => {
  it('report the same problems: a listener key of another certificate, in the same words', () => {
    const file = join(pki.dir, 'gateway.yaml')
    writeFileSync(file, yamlWith(pki.file('server.key')))
    const current = loadConfig(file)
    expect(runCheck(file).ok).toBe(true)
    expect(validateDraft(file, yamlWith(pki.file('server.key')), current, restartBaseline(current))).toMatchObject({ ok: true, problems: [] })
    const bad = yamlWith(pki.file('client.key'))
    writeFileSync(file, bad)
    const check = runCheck(file)
    const draft = validateDraft(file, bad, current, restartBaseline(current))
    // At listen.tls's line and column in the config, naming the key file (before: the key file's name in place of the config's, no line, so the draft could not place it).
    const line = `${file}:1:25: listen.tls: ${pki.file('client.key')}: private key does not match the certificate in ${pki.file('server-chain.crt')}`
    expect(check.ok).toBe(false)
    expect(check.output.split('\n').filter((l) => l.startsWith(pki.dir))).toEqual([line])
    expect(draft.ok).toBe(false)
    expect(draft.problems.map((p) => p.text)).toEqual([line])
    expect(draft.problems.map((p) => [p.line, p.column, p.inDraft])).toEqual([[1, 25, true]])
  })

  // restartNeeded says what a reload of the draft would be refused for: the store's location is
  // fixed only once a store is open (the first config with caller apps or a per_user profile).
  it('judges the store location as a reload does: free until a store is open, then fixed', () => {
    const dir = pki.dir
    const callers = `callers:\n  apps: [{ clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: a, endpoints: ["*"] }]\n`
    const yaml = (db: string, withCallers: boolean): string => `${yamlWith(pki.file('server.key'))}store: { file: ${join(dir, db)} }\n${withCallers ? callers : ''}`
    const file = join(dir, 'draft-store.yaml')
    writeFileSync(file, yaml('a.db', false))
    const start = loadConfig(file)
    const started = restartBaseline(start)
    const moved = validateDraft(file, yaml('b.db', true), start, started)
    expect(moved).toMatchObject({ ok: true, changes: { restartNeeded: [] } })
    writeFileSync(file, yaml('b.db', true))
    const reloaded = loadConfig(file)
    const opened = adoptConfig(started, reloaded)
    expect(validateDraft(file, yaml('c.db', true), reloaded, opened).changes?.restartNeeded).toEqual(['store.file'])
    expect(validateDraft(file, yaml('c.db', false), reloaded, opened).changes?.restartNeeded).toEqual(['store.file'])
    expect(validateDraft(file, yaml('b.db', false), reloaded, opened).changes?.restartNeeded).toEqual([])
    // The listener is judged against the start, store or not.
    expect(validateDraft(file, yaml('b.db', true).replace('listen: { port: 0,', 'listen: { port: 1,'), reloaded, opened).changes?.restartNeeded).toEqual(['listen.port'])
  })
})
