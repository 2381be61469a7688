/**
 * `check` runs every check a start runs (README): a `tracing.otlp.tls` file that cannot be read
 * stops a start ("tracing.otlp.tls.ca: cannot read …"), so `check`, and the `--workers`
 * primary's verdict (startProblems), name it too; so does a `store.redis.tls` file of a config
 * whose start opens the Redis store (`check` and the console's draft validator). `check` once
 * passed docs/tracing.md's and docs/store.md's examples with their files absent, and `serve` on
 * the same files then exited 1.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'
import { startProblems } from '../../src/gateway/index.js'

let pki: TestPki
let endpoint: string

beforeAll(async () => {
  pki = await createTestPki()
  endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
})
afterAll(() => pki?.cleanup())

function configWith(name: string, tracing: string): string {
  return pki.write(name, `tracing:\n${tracing}${endpoint}`)
}

describe('check: tracing.otlp.tls files', () => {
  it('an absent CA, client certificate or key fails check and the start verdict, each named', () => {
    const missing = join(pki.dir, 'no-such')
    const file = configWith('missing.yaml', `  enabled: true\n  otlp:\n    endpoint: https://127.0.0.1:4318/v1/traces\n    tls: { ca: ${missing}.ca, cert: ${missing}.crt, key: ${missing}.key }\n`)
    const r = runCheck(file)
    expect(r.ok).toBe(false)
    for (const key of ['ca', 'cert', 'key']) expect(r.output).toMatch(new RegExp(`tracing\\.otlp\\.tls\\.${key}: cannot read \\S+: ENOENT`))
    expect(r.output).toContain('check failed: 3 problem(s)')
    expect(startProblems(loadConfig(file)).problems.map((p) => p.key)).toEqual(['tracing.otlp.tls.ca', 'tracing.otlp.tls.cert', 'tracing.otlp.tls.key'])
  })

  it('readable files pass; with tracing off the files are not read (a start does not read them either)', () => {
    const ok = configWith('ok.yaml', `  enabled: true\n  otlp:\n    endpoint: https://127.0.0.1:4318/v1/traces\n    tls: { ca: ${pki.file('root.crt')} }\n`)
    expect(runCheck(ok).ok).toBe(true)
    const off = configWith('off.yaml', `  enabled: false\n  otlp:\n    endpoint: https://127.0.0.1:4318/v1/traces\n    tls: { ca: ${join(pki.dir, 'no-such.ca')} }\n`)
    expect(runCheck(off).ok).toBe(true)
  })
})

describe('check: store.redis.tls files', () => {
  const redis = (ca: string): string => `store:\n  kind: redis\n  url: rediss://127.0.0.1:6379/0\n  redis:\n    tls: { ca: ${ca} }\n`
  const app = 'callers:\n  apps:\n    - { clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: https://gw.example, endpoints: [partner] }\n'

  it('an absent CA fails check and the draft validator when the start opens the store (caller apps)', () => {
    const missing = join(pki.dir, 'no-such-redis-ca.crt')
    const file = pki.write('redis-missing.yaml', `${app}${redis(missing)}${endpoint}`)
    const r = runCheck(file)
    expect(r.ok).toBe(false)
    expect(r.output).toContain(`store.redis.tls.ca: cannot read ${missing}: ENOENT`)
    const current = loadConfig(pki.write('current.yaml', endpoint))
    const draft = validateDraft(file, readFileSync(file, 'utf8'), current, restartBaseline(current))
    expect(draft.problems.map((p) => p.key)).toEqual(['store.redis.tls.ca'])
  })

  it('a readable CA passes; without anything to keep in the store it is not read (a start does not open the store)', () => {
    expect(runCheck(pki.write('redis-ok.yaml', `${app}${redis(pki.file('root.crt'))}${endpoint}`)).ok).toBe(true)
    expect(runCheck(pki.write('redis-unused.yaml', `${redis(join(pki.dir, 'no-such-redis-ca.crt'))}${endpoint}`)).ok).toBe(true)
  })
})
