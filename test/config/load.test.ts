import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../../src/config/index.js'
import { renderConfigReference, renderSchemaJson } from '../../src/config/reference.js'
import { CONFIG_VALIDATOR_FILE, renderConfigValidator } from '../../src/config/validator-source.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')

const GOOD = `listen:
  port: 8080
endpoints:
  - name: payments
    url: https://api.partner.test:8443/v1
    tls:
      cert: client.crt
      key: client.key
      roots: [root.crt]
      minVersion: TLSv1.3
    timeouts:
      connect: 250ms
      response: 5s
limits:
  maxBufferedBody: 2MiB
`

const problemsOf = (text: string, env: NodeJS.ProcessEnv = {}): string[] => configErrorLines(() => parseConfig(file, text, { env }))

describe('config loading', () => {
  it('normalises a good file: defaults, durations, sizes, absolute paths', () => {
    const c = parseConfig(file, GOOD, { env: {} })
    const ep = c.endpoints[0]
    expect(ep?.timeouts).toEqual({ connectMs: 250, responseMs: 5000, idleMs: 30_000, keepAliveMs: 60_000 })
    expect(ep?.tls.cert).toBe(join(dir, 'client.crt'))
    expect(ep?.tls.roots).toEqual([join(dir, 'root.crt')])
    expect(ep?.tls.minVersion).toBe('TLSv1.3')
    expect(c.limits.maxBufferedBody).toBe(2 * 1024 * 1024)
    expect(c.admin).toEqual({
      host: '127.0.0.1', port: 9090, enabled: true, allowedHosts: [], consoleOrigins: [],
      timeouts: { headersMs: 60_000, bodyIdleMs: 60_000, bufferedBodyMs: 60_000, keepAliveMs: 75_000, tlsHandshakeMs: 10_000 },
      connections: { max: 256, perAddress: 0 },
    })
    expect(c.listen.timeouts).toEqual({ headersMs: 60_000, bodyIdleMs: 60_000, bufferedBodyMs: 60_000, keepAliveMs: 75_000, tlsHandshakeMs: 10_000, sendIdleMs: 60_000, tunnelIdleMs: 600_000 })
    expect(c.listen.connections).toEqual({ max: 4096, perAddress: 0 })
    expect(Object.isFrozen(c.endpoints[0]?.tls)).toBe(true)
  })

  it('reads listener limits written as durations, and refuses unknown limit keys at their line', () => {
    const limits = 'listen:\n  timeouts: { headers: 2s, bodyIdle: 1500ms, keepAlive: 0, tunnelIdle: 1m }\n  connections: { max: 10, perAddress: 3 }\n'
    const c = parseConfig(file, limits + GOOD.replace('listen:\n  port: 8080\n', ''), { env: {} })
    expect(c.listen.timeouts).toMatchObject({ headersMs: 2000, bodyIdleMs: 1500, keepAliveMs: 0, tunnelIdleMs: 60_000, bufferedBodyMs: 60_000 })
    expect(c.listen.connections).toEqual({ max: 10, perAddress: 3 })
    expect(() => parseConfig(file, 'admin:\n  timeouts: { header: 2s }\n' + GOOD, { env: {} })).toThrow(/:2:\d+: admin\.timeouts\.header: unknown key/)
  })

  it('names file, line, column and YAML problem for a malformed file', () => {
    const lines = problemsOf('endpoints:\n  - name: a\n    url: [unclosed\n')
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML: `))
  })

  it('refuses unknown keys, pointing at the key', () => {
    const text = GOOD.replace('      minVersion: TLSv1.3\n', '      minVersion: TLSv1.3\n      minVerison: TLSv1.2\n')
    expect(problemsOf(text)).toEqual([`${file}:11:7: endpoints[0].tls.minVerison: unknown key (did you mean minVersion?)`])
  })

  it('refuses a bad enum with the allowed values', () => {
    const lines = problemsOf(GOOD.replace('minVersion: TLSv1.3', 'minVersion: TLSv1.1'))
    expect(lines).toEqual([`${file}:10:19: endpoints[0].tls.minVersion: must be one of TLSv1.2, TLSv1.3`])
  })

  it('reports a missing env reference by name at its key, and never the other values', () => {
    const text = GOOD.replace('      key: client.key\n', '      key: client.key\n      keyPassphrase: ${env:PAYMENTS_KEY_PASS}\n')
    expect(problemsOf(text)).toEqual([`${file}:9:22: endpoints[0].tls.keyPassphrase: environment variable PAYMENTS_KEY_PASS is not set (referenced as \${env:PAYMENTS_KEY_PASS})`])
  })

  it('resolves ${env:} and ${file:} references and remembers them as secrets', () => {
    writeFileSync(join(dir, 'pass.txt'), 's3cret-from-file\n')
    const text = GOOD.replace('      key: client.key\n', '      key: client.key\n      keyPassphrase: ${file:pass.txt}\n').replace('port: 8080', 'port: ${env:PORT}')
    expect(() => parseConfig(file, text, { env: { PORT: '9000' } })).toThrow(/listen.port: must be integer/)
    const ok = parseConfig(file, GOOD.replace('      key: client.key\n', '      key: client.key\n      keyPassphrase: ${file:pass.txt}\n'), { env: {} })
    expect(ok.endpoints[0]?.tls.keyPassphrase).toBe('s3cret-from-file')
    expect(ok.secrets).toContain('s3cret-from-file')
    expect(ok.files).toContain(join(dir, 'pass.txt'))
  })

  it('reports a bad duration and a bad size with what is expected', () => {
    const lines = problemsOf(GOOD.replace('connect: 250ms', 'connect: 5 seconds').replace('2MiB', '2 megs'))
    expect(lines).toContain(`${file}:12:16: endpoints[0].timeouts.connect: invalid value: expected a duration such as 250ms, 5s, 2m, 1h, or a number of milliseconds; write 5s (units: ms, s, m, h)`)
    expect(lines.some((l) => l.includes('limits.maxBufferedBody: invalid value: expected a size such as 512KiB'))).toBe(true)
  })

  it('reports every problem at once, including missing required keys and cross-field rules', () => {
    const text = `endpoints:\n  - name: a\n    url: https://a.test\n    tls: { cert: c.crt, pkcs12: x.p12, roots: r.crt }\n  - name: a\n    tls: { dir: d }\n`
    const lines = problemsOf(text)
    expect(lines).toContain(`${file}:5:5: endpoints[1].url: is required`)
    const again = problemsOf(text.replace('  - name: a\n    tls: { dir: d }\n', '  - name: a\n    url: https://b.test\n    tls: { dir: d }\n'))
    expect(again.some((l) => l.includes('endpoints[0].tls: give exactly one client bundle'))).toBe(true)
    expect(again.some((l) => l.includes('endpoints[0].tls.key: is required with cert/key bundles'))).toBe(true)
    expect(again.some((l) => l.includes('endpoints[1].name: duplicate endpoint name "a" (also endpoints[0])'))).toBe(true)
  })

  it('names a passphrase given under the other bundle form\'s key, at its line', () => {
    const text = `endpoints:\n  - name: p\n    url: https://p.test\n    tls:\n      pkcs12: c.p12\n      keyPassphrase: pw\n      roots: r.crt\n  - name: k\n    url: https://k.test\n    tls:\n      cert: c.crt\n      key: c.key\n      pkcs12Passphrase: pw\n      roots: r.crt\n`
    const lines = problemsOf(text)
    expect(lines).toContain(`${file}:6:22: endpoints[0].tls.keyPassphrase: is the passphrase of an encrypted PEM key (key, or dir's tls.key); a pkcs12 file's is pkcs12Passphrase`)
    expect(lines).toContain(`${file}:13:25: endpoints[1].tls.pkcs12Passphrase: is the passphrase of a pkcs12 file, and none is given; an encrypted PEM key's is keyPassphrase`)
    // Each in its own place is fine.
    const placed = text.replace('      keyPassphrase: pw\n', '      pkcs12Passphrase: pw\n').replace('      key: c.key\n      pkcs12Passphrase: pw\n', '      key: c.key\n      keyPassphrase: pw\n')
    expect(problemsOf(placed).filter((l) => /Passphrase/.test(l))).toEqual([])
  })

  it('refuses an empty serverName at its line (it was ignored, the URL host verified instead)', () => {
    const text = `endpoints:\n  - name: e\n    url: https://e.test\n    tls:\n      cert: c.crt\n      key: c.key\n      roots: r.crt\n      serverName: ""\n`
    expect(problemsOf(text)).toEqual([`${file}:8:19: endpoints[0].tls.serverName: must NOT have fewer than 1 characters`])
  })

  it('refuses a pathPrefix a URL parser writes otherwise, at its line (it matched requests the dial then stopped with a 500)', () => {
    const at = (prefix: string): string => `endpoints:\n  - name: e\n    url: https://e.test\n    pathPrefix: ${JSON.stringify(prefix)}\n    tls: { cert: c.crt, key: c.key, roots: r.crt }\n`
    const refusal = (prefix: string): string[] => problemsOf(at(prefix)).filter((l) => l.includes('pathPrefix'))
    expect(refusal('/a^b')).toEqual([`${file}:4:17: endpoints[0].pathPrefix: is not written as a URL carries it ("/a%5Eb"): requests are matched against it as written and sent with their path as a URL writes it, so it would match paths that cannot be sent; percent-encode characters such as ^ { } " < > \` and spaces and non-ASCII ones, and leave out "\\", "." and ".." segments`])
    for (const bad of ['/a b', '/é', '/a/../b', '/a\\b', '/{x}', '/a?b', '/t/{{acct}}/^']) expect(refusal(bad), bad).toHaveLength(1)
    for (const good of ['/a%5Eb', '/api/v1', '/t/{{acct}}/x', '/t/%7B%7Bacct%7D%7D/x', '/a|b', "/a:b@c!$&'()*+,;="]) expect(refusal(good), good).toEqual([])
  })

  it('names the file when it cannot be read', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(`${join(dir, 'missing.yaml')}: cannot read config file: ENOENT`)
  })

  it('ships a schema file and a reference page generated from the schema source', () => {
    expect(readFileSync('config/gateway.schema.json', 'utf8')).toBe(renderSchemaJson())
    expect(readFileSync('docs/config-reference.md', 'utf8')).toBe(renderConfigReference())
  })

  it('admin.consoleOrigins: normalised as a browser sends Origin (lower case, no default port, no slash); a path, a wildcard or no URL refused', () => {
    const admin = parseConfig(file, 'admin:\n  consoleOrigins: ["HTTPS://GW-Admin.Example.com:443/", "http://[::1]:8080", "https://gw-admin.example.com:8443"]\n' + GOOD, { env: {} }).admin
    expect(admin.consoleOrigins).toEqual(['https://gw-admin.example.com', 'http://[::1]:8080', 'https://gw-admin.example.com:8443'])
    for (const bad of ['https://gw-admin.example.com/console/', 'https://*.example.com', 'gw-admin.example.com', 'https://gw-admin.example.com:70000', 'ftp://gw-admin.example.com']) {
      expect(problemsOf(`admin:\n  consoleOrigins: ["${bad}"]\n` + GOOD).join('\n'), bad).toMatch(/admin\.consoleOrigins\[0\]/)
    }
    expect(problemsOf('admin:\n  consoleOrigins: ["http://[1.2]"]\n' + GOOD)).toEqual([expect.stringMatching(/admin\.consoleOrigins\[0\]: is not an origin a browser could send/)])
  })

  it('validates with the code Ajv generates from the schema source today (`npm run schema` writes it)', () => {
    // Compared as text, not with toBe: a 400 KB diff would bury the failure's one line of advice.
    expect(readFileSync(CONFIG_VALIDATOR_FILE, 'utf8') === renderConfigValidator(), `${CONFIG_VALIDATOR_FILE} is out of date: run npm run schema`).toBe(true)
  })
})
