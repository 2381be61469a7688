/**
 * ioredis, better-sqlite3, node-forge and @peculiar/x509 load only when the config needs them (a
 * Redis store; a SQLite store; a PKCS#12 bundle; issuing a certificate:
 * the dev PKI, interception leaves): their code would otherwise stay alive in every gateway's heap, which every major
 * collection marks. Checking a client bundle (its key usage and pathlen included) loads none of
 * them: its extensions are read with @peculiar/asn1-x509 alone. A child Node imports every module of the build,
 * then reports which of these packages are in the module cache; the second case shows the
 * check sees a package as soon as the code that needs it runs.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertDistFresh } from '../support/dist-fresh.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

// Every module under dist/src except the CLI entry (it parses argv on import), the bundle's chunks (the same modules again) and the
// console's browser assets.
const IMPORT_ALL = `
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? (e.name === 'assets' || e.name === 'chunks' ? [] : walk(join(d, e.name))) : e.name.endsWith('.js') && join(d, e.name) !== join(process.cwd(), 'dist/src/main.js') ? [join(d, e.name)] : [])
const modules = walk(join(process.cwd(), 'dist/src'))
for (const file of modules) await import(file)
const loaded = (pkg) => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/' + pkg + '/'))
const report = (step) => process.stdout.write(JSON.stringify({ step, modules: modules.length, ioredis: loaded('ioredis'), sqlite: loaded('better-sqlite3'), forge: loaded('node-forge'), x509: loaded('@peculiar/x509') }) + '\\n')
`

interface Report {
  step: string
  modules: number
  ioredis: boolean
  sqlite: boolean
  forge: boolean
  x509: boolean
}

function run(script: string): Report[] {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `${IMPORT_ALL}\n${script}\nprocess.exit(0)`], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  return out.trim().split('\n').filter((l) => l.startsWith('{"step"')).map((l) => JSON.parse(l) as Report)
}

let pki: TestPki
/** A config of one endpoint with a client bundle (chain, key usage and pathlen all checked). */
let bundleConfig: string

beforeAll(async () => {
  assertDistFresh()
  pki = await createTestPki()
  bundleConfig = pki.write('gateway.yaml', `listen: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('partner', 1, clientTls(pki))}`)
})

afterAll(() => pki?.cleanup())

describe('packages only some configs need load on first use', () => {
  it('importing every module of the gateway loads none of ioredis, better-sqlite3, node-forge and @peculiar/x509', () => {
    const [r] = run(`report('imported')`)
    expect(r?.modules).toBeGreaterThan(100)
    expect(r).toMatchObject({ step: 'imported', ioredis: false, sqlite: false, forge: false, x509: false })
  })

  it('opening a Redis store loads ioredis, a SQLite store better-sqlite3, reading a PKCS#12 file node-forge, issuing a certificate @peculiar/x509; checking a client bundle none of them', () => {
    const reports = run(`
const { openStore } = await import(join(process.cwd(), 'dist/src/store/index.js'))
const { readPkcs12 } = await import(join(process.cwd(), 'dist/src/tls/pkcs12.js'))
report('before')
const store = openStore({ kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'mtls-gateway-test:lazy-modules:' })
await store.close()
report('redis')
const { mkdtempSync, rmSync } = await import('node:fs')
const { tmpdir } = await import('node:os')
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-lazy-'))
await openStore({ kind: 'sqlite', file: join(dir, 'store.db') }).close()
rmSync(dir, { recursive: true, force: true })
report('sqlite')
try { readPkcs12(Buffer.from('not a PKCS#12 file'), 'passphrase') } catch {}
report('pkcs12')
const { loadConfig } = await import(join(process.cwd(), 'dist/src/config/index.js'))
const { checkConfig } = await import(join(process.cwd(), 'dist/src/gateway/index.js'))
const checked = checkConfig(loadConfig(${JSON.stringify(bundleConfig)}))
if (checked.problems.length > 0 || checked.reports.length !== 1) throw new Error('the client bundle was not checked: ' + JSON.stringify(checked.problems))
report('bundle checked')
const { issueCertificate } = await import(join(process.cwd(), 'dist/src/tls/pki.js'))
const issued = await issueCertificate({ subject: 'CN=lazy-modules', kind: 'p256' })
if (!issued.pem.startsWith('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate issued')
report('issued')
`)
    expect(reports.map((r) => [r.step, r.ioredis, r.sqlite, r.forge, r.x509])).toEqual([
      ['before', false, false, false, false],
      ['redis', true, false, false, false],
      ['sqlite', true, true, false, false],
      ['pkcs12', true, true, true, false],
      ['bundle checked', true, true, true, false],
      ['issued', true, true, true, true],
    ])
  })
})
