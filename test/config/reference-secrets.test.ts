/**
 * A value from `${env:…}` or `${file:…}` never appears in a config problem (what `check`
 * prints, a failed reload logs and the console's draft validator shows), wherever the
 * reference is placed: the problem names the reference instead. A seeded property over
 * generated secrets (private-key text, passwords with YAML and URL metacharacters) and the
 * config keys that quote their value when it is wrong, at load (schema and cross-field
 * rules) and after it (bundle, listener and profile files that `check` and a start or
 * reload read: a private key pasted where a path belongs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { problemTextsThroughStart } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-refsecrets-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')

/** A config with `REF` at one place; each place is a key whose problems quote the value. */
const PLACES: readonly string[] = [
  'endpoints:\n  - name: a\n    url: "REF"\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
  'endpoints:\n  - name: a\n    url: "https://REF.example/"\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
  'endpoints:\n  - name: a\n    url: https://a.example\n    resolve: "REF"\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
  'endpoints:\n  - name: a\n    url: https://a.example\n    profile: "REF"\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
  'endpoints:\n  - name: "REF"\n    url: https://a.example\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
  'listen:\n  port: "REF"\nendpoints: []\n',
  'listen:\n  host: "REF"\nendpoints: []\n',
  'limits:\n  maxBufferedBody: "REF"\nendpoints: []\n',
  'store:\n  kind: redis\n  redis: { url: "REF" }\nendpoints: []\n',
  'endpoints:\n  - name: a\n    url: https://a.example\n    timeouts: { connect: "REF" }\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n',
]
/** Paths, read after loading (by `check`, and by a start or reload). */
const PATH_PLACES: readonly string[] = [
  'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: "REF", key: c.key, roots: [r.crt] }\n',
  'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: c.crt, key: "REF", roots: ["REF"] }\n',
  'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { dir: "/tmp/REF" }\n',
  'listen:\n  tls: { cert: "REF", key: "REF" }\nendpoints: []\n',
  'interception:\n  caCert: "REF"\n  caKey: k.pem\nendpoints: []\n',
]

/** Problems of loading `text`, then (when it loads) of `check` and of a start (compile). */
const problems = (text: string, env: NodeJS.ProcessEnv): string[] => problemTextsThroughStart(file, text, env)

const pemLike = fc.base64String({ minLength: 40, maxLength: 200 }).map((b) => `-----BEGIN PRIVATE KEY-----\n${b}\n-----END PRIVATE KEY-----`)
const password = fc.string({ unit: fc.constantFrom(...'abcXYZ019:/@#?%&+= -_.{}[]"\'\\'.split('')), minLength: 8, maxLength: 40 })
// A secret of the reference's own text would "appear" as the reference: not a secret anyone has.
const secret = fc.oneof(pemLike, password).filter((s) => !'${env:SECRET}${file:secret.txt}'.includes(s))

describe('config problems never show a referenced value', () => {
  it('names the reference, never the value, wherever it is used (env and file references)', () => {
    let quoted = 0
    let afterLoad = 0
    fc.assert(
      fc.property(secret, fc.constantFrom(...PLACES, ...PATH_PLACES), fc.boolean(), (value, place, viaFile) => {
        writeFileSync(join(dir, 'secret.txt'), value)
        const reference = viaFile ? '${file:secret.txt}' : '${env:SECRET}'
        const found = problems(place.replace('REF', reference.replaceAll('"', '\\"')), { SECRET: value })
        for (const text of found) expect(text.includes(value), `${JSON.stringify(value)} in: ${text}`).toBe(false)
        if (found.some((t) => t.includes(reference))) quoted++
        if (PATH_PLACES.includes(place) && found.some((t) => t.includes(reference))) afterLoad++
      }),
      { seed: 0x5ec7e7, numRuns: 2000 },
    )
    // The property is not vacuous: many problems did quote the value, as its reference.
    expect(quoted).toBeGreaterThan(500)
    expect(afterLoad).toBeGreaterThan(400)
  })

  // Found as written is not enough: a path is normalised before a problem names it, and
  // "a//b", "a/./b" or "a/x/../b" would show nearly all of a key as "a/b". So no piece of the
  // value (a run of at least 8 characters between separators) may show, in any problem.
  it('shows no piece of a referenced value in a path that normalising would rewrite (env, file, dir)', () => {
    const pieces = (v: string): string[] => v.split(/[/.\s]+/).filter((p) => p.length >= 8)
    const base64Run = fc.base64String({ minLength: 12, maxLength: 40 }).map((b) => b.replace(/[/=+]/g, 'Q'))
    const joint = fc.constantFrom('//', '/./', '/x/../', '///', '/')
    const keyText = fc.tuple(fc.array(fc.tuple(base64Run, joint), { minLength: 1, maxLength: 6 }), base64Run).map(([parts, last]) => `-----BEGIN PRIVATE KEY-----\n${parts.map(([r, j]) => r + j).join('')}${last}\n-----END PRIVATE KEY-----`)
    const places = [
      'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: c.crt, key: "REF", roots: [r.crt] }\n',
      'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: "REF", key: c.key, roots: [r.crt] }\n',
      'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { dir: "REF" }\n',
      'endpoints:\n  - name: a\n    url: https://a.example\n    tls: { dir: "/tmp/REF" }\n',
      'interception:\n  caCert: "REF"\n  caKey: k.pem\nendpoints: []\n',
      'listen:\n  tls: { cert: "REF", key: c.key }\nendpoints: []\n',
    ]
    let named = 0
    fc.assert(
      fc.property(keyText, fc.constantFrom(...places), fc.boolean(), (value, place, viaFile) => {
        writeFileSync(join(dir, 'secret.txt'), value)
        const reference = viaFile ? '${file:secret.txt}' : '${env:SECRET}'
        const found = problems(place.replace('REF', reference), { SECRET: value })
        for (const text of found) for (const piece of pieces(value)) expect(text.includes(piece), `${JSON.stringify(piece)} of the key in: ${text}`).toBe(false)
        if (found.some((t) => t.includes(reference))) named++
      }),
      { seed: 0x5ec7e8, numRuns: 600 },
    )
    expect(named).toBeGreaterThan(500)
  })

  it('names the reference for a private key with "//" in it given where the key path belongs', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCltQGQ\nvoFYcHDc4TJ/vvGDPAQIa0JSIojRFmVbTgvkgmbnMpf//1T0DxpfH5YW/VsjtQVa\n-----END PRIVATE KEY-----'
    const found = problems('endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: c.crt, key: "${env:CLIENT_KEY}", roots: [r.crt] }\n', { CLIENT_KEY: pem })
    expect(found.join('\n')).toContain('${env:CLIENT_KEY}')
    expect(found.join('\n')).not.toContain('voFYcHDc4TJ')
    expect(found.join('\n')).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCltQGQ')
  })

  it('shows the reference in place of a private key pasted into the wrong key', () => {
    writeFileSync(join(dir, 'client.key'), '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKeyMaterialNotToShow\n-----END PRIVATE KEY-----\n')
    const found = problems('endpoints:\n  - name: a\n    url: https://a.example\n    resolve: "${file:client.key}"\n    tls: { cert: c.crt, key: c.key, roots: [r.crt] }\n', {})
    expect(found.join('\n')).toContain('must be an IPv4 or IPv6 address, got "${file:client.key}"')
    expect(found.join('\n')).not.toContain('KeyMaterialNotToShow')
  })

  it('shows the reference in place of a private key given where a certificate path belongs', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKeyMaterialNotToShow\n-----END PRIVATE KEY-----'
    const found = problems('endpoints:\n  - name: a\n    url: https://a.example\n    tls: { cert: "${env:CLIENT_KEY}", key: c.key, roots: [r.crt] }\n', { CLIENT_KEY: pem })
    expect(found.join('\n')).toContain('${env:CLIENT_KEY}')
    expect(found.join('\n')).not.toContain('KeyMaterialNotToShow')
  })
})
