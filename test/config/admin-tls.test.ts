/**
 * admin.tls: the proxy listener's TLS keys (paths relative to the config, `${env:}` and
 * `${file:}` references) plus the console's certificate allow-list, which needs clientCa.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { configSecretValues } from '../../src/ops/index.js'
import { restartBaseline, restartOnlyChanges } from '../../src/runtime/index.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-admin-tls-'))
const file = join(dir, 'gateway.yaml')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const yaml = (tls: string): string => `admin:\n  tls:\n${tls}endpoints: []\n`

describe('admin.tls', () => {
  it('normalises like listen.tls: absolute paths, references resolved, defaults, files watched, passphrase redacted', () => {
    writeFileSync(join(dir, 'pass.txt'), 'admin-key-passphrase-91\n')
    const c = parseConfig(file, yaml('    cert: admin.crt\n    key: "${env:ADMIN_KEY}"\n    keyPassphrase: "${file:pass.txt}"\n    clientCa: ca.crt\n    clientSubjects: [ops-alice]\n'), { env: { ADMIN_KEY: '/etc/admin/admin.key' } })
    expect(c.admin.tls).toEqual({
      cert: join(dir, 'admin.crt'), key: '/etc/admin/admin.key', keyPassphrase: 'admin-key-passphrase-91', clientCa: join(dir, 'ca.crt'),
      requireClientCert: false, clientSubjects: ['ops-alice'], clientSans: [],
    })
    expect(c.admin.timeouts.tlsHandshakeMs).toBe(10_000)
    expect(c.files).toEqual(expect.arrayContaining([join(dir, 'admin.crt'), '/etc/admin/admin.key']))
    expect(configSecretValues(c)).toContain('admin-key-passphrase-91')
    expect(parseConfig(file, 'endpoints: []\n', { env: {} }).admin.tls).toBeUndefined()
  })

  it('the allow-list and requireClientCert need clientCa; cert and key are required', () => {
    const problems = (text: string): string[] => {
      try {
        parseConfig(file, text, { env: {} })
      } catch (e) {
        if (e instanceof ConfigError) return e.problems.map((p) => `${p.key}: ${p.msg}`)
        throw e
      }
      throw new Error('expected a ConfigError')
    }
    expect(problems(yaml('    cert: a.crt\n    key: a.key\n    requireClientCert: true\n    clientSans: [ops.example]\n'))).toEqual([
      'admin.tls.requireClientCert: needs clientCa: client certificates are verified against it',
      'admin.tls.clientSans: needs clientCa: client certificates are verified against it',
    ])
    expect(problems(yaml('    cert: a.crt\n'))).toEqual(['admin.tls.key: is required'])
  })

  it('is restart-only but for the console\'s allow-list: a reload that changes its files is refused, one that changes clientSubjects/clientSans is not (read per request)', () => {
    const before = parseConfig(file, yaml('    cert: a.crt\n    key: a.key\n    clientCa: ca.crt\n    clientSubjects: [ops-alice]\n'), { env: {} })
    const allowList = parseConfig(file, yaml('    cert: a.crt\n    key: a.key\n    clientCa: ca.crt\n    clientSubjects: [ops-alice, ops-mallory]\n    clientSans: [ops.example]\n'), { env: {} })
    expect(restartOnlyChanges(restartBaseline(before), allowList)).toEqual([])
    const files = parseConfig(file, yaml('    cert: a.crt\n    key: a.key\n    clientCa: other-ca.crt\n    clientSubjects: [ops-alice]\n'), { env: {} })
    expect(restartOnlyChanges(restartBaseline(before), files).map((p) => p.key)).toEqual(['admin.tls.clientCa'])
  })
})
