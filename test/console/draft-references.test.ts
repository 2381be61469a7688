/**
 * The console's draft validator cannot be used to read a variable or a file: nothing in its
 * answer shows a `${env:}`/`${file:}` value, also where the draft uses one as an endpoint's name
 * (which the reload summary lists as added or changed). Property over generated values that are
 * valid endpoint names (a lower-case hex token is one).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

const dir = mkdtempSync(join(tmpdir(), 'draft-refs-'))
const file = join(dir, 'gateway.yaml')
const VAR = 'MTLSGW_TEST_DRAFT_SECRET'
let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => {
  delete process.env[VAR]
  rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

const current = parseConfig(file, 'admin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://a.example\n    tls: { dir: /nonexistent }\n')
const draftNaming = (ref: string): string => `admin: { enabled: false }\nendpoints:\n  - name: "${ref}"\n    url: https://a.example\n    tls: { dir: /nonexistent }\n`

describe('the draft validator shows no referenced value', () => {
  it('an endpoint named by ${env:} or ${file:} is listed by its reference (300 runs)', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{5,40}$/)
    let listed = 0
    fc.assert(
      fc.property(name, fc.boolean(), (value, viaFile) => {
        process.env[VAR] = value
        writeFileSync(join(dir, 'name.txt'), value)
        const ref = viaFile ? '${file:name.txt}' : `\${env:${VAR}}`
        const answer = JSON.stringify(validateDraft(file, draftNaming(ref), current, restartBaseline(current)))
        expect(answer.includes(value), answer).toBe(false)
        if (answer.includes(ref)) listed++
      }),
      { seed: 0xd4af7, numRuns: 300 },
    )
    expect(listed).toBe(300)
  })

  it('a value used in a URL\'s host is not shown lower-cased either (a check quotes the parsed origin) (200 runs)', () => {
    // Two endpoints and another endpoint's profile's token URL on one origin: the warning names that origin, parsed.
    const draftHost = (ref: string): string => {
      const tls = `    tls: ${clientTlsYaml(pki)}\n`
      return `admin: { enabled: false }\nstore: { file: ${join(dir, 'state.db')}, sealKeys: [{ id: k1, key: "${'A'.repeat(43)}=" }] }\nendpoints:\n  - name: partner\n    url: https://a.example\n    profile: p\n${tls}  - name: a\n    url: "https://${ref}.example.com"\n${tls}  - name: b\n    url: "https://${ref}.example.com"\n${tls}profiles:\n  - name: p\n    consumerKey: ck\n    consumerSecret: cs-secret-0001\n    requestTokenUrl: "https://${ref}.example.com/rt"\n    accessTokenUrl: https://a.example/at\n    authorizeUrl: https://a.example/au\n    token: { mode: per_user }\n`
    }
    // A host label with upper-case letters, which URL parsing lower-cases.
    const label = fc.stringMatching(/^[a-z][a-z0-9]{7,30}$/).chain((v) => fc.array(fc.boolean(), { minLength: v.length, maxLength: v.length }).map((up) => [...v].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')))
    let quoted = 0
    fc.assert(
      fc.property(label, fc.boolean(), (value, viaFile) => {
        process.env[VAR] = value
        writeFileSync(join(dir, 'host.txt'), value)
        const ref = viaFile ? '${file:host.txt}' : `\${env:${VAR}}`
        const answer = JSON.stringify(validateDraft(file, draftHost(ref), current, restartBaseline(current)))
        expect(answer.toLowerCase().includes(value.toLowerCase()), answer).toBe(false)
        if (answer.includes(`https://${ref}.example.com`)) quoted++
      }),
      { seed: 0x4057, numRuns: 200 },
    )
    // The origin is quoted (by its reference), so the property is not vacuous.
    expect(quoted).toBeGreaterThan(150)
  })

  it('a value in a pathPrefix is shown neither as written nor as a URL writes it (line breaks dropped, percent-encoded, cut at ? or #) (300 runs)', () => {
    const draftPrefix = (ref: string): string => `admin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://a.example\n    pathPrefix: "/api/${ref}"\n    tls: { dir: /nonexistent }\n`
    // Characters a URL writes otherwise (space, line breaks, ^ " < > { } %, non-ASCII), cuts at (? #), or keeps.
    const char = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789', ' ', '\n', '\t', '^', '"', '<', '>', '{', '}', '%', '?', '#', 'é', 'Ü', '€', '😀', '-', '_', '~', '=', '+', ':', '@')
    const value = fc.array(char, { minLength: 12, maxLength: 60 }).map((cs) => cs.join('')).filter((v) => /[ \n\t^"<>{}?#éÜ€😀]/u.test(v) && v.trim() === v)
    // Independent of the gateway's own list of spellings: the answer's text percent-decoded, '+' read as a space.
    const decoded = (text: string): string => text.replace(/(%[0-9A-Fa-f]{2})+/g, (m) => { try { return decodeURIComponent(m) } catch { return m } })
    let refused = 0
    fc.assert(
      fc.property(value, fc.boolean(), (v, viaFile) => {
        process.env[VAR] = v
        writeFileSync(join(dir, 'prefix.txt'), v)
        const ref = viaFile ? '${file:prefix.txt}' : `\${env:${VAR}}`
        const answer = JSON.stringify(validateDraft(file, draftPrefix(ref), current, restartBaseline(current)))
        const texts = [answer, decoded(answer), decoded(answer).replaceAll('+', ' ')].map((t) => t.toLowerCase())
        // Any 8 characters running in the value (its line breaks and tabs dropped, as a URL parser drops them).
        const plain = v.replace(/[\t\n\r]/g, '').toLowerCase()
        for (let i = 0; i + 8 <= plain.length; i++) {
          const window = plain.slice(i, i + 8)
          if (/^[\w]+$/.test(window) || /[^\s]{3}/.test(window)) for (const t of texts) expect(t.includes(window), `${JSON.stringify(window)} in ${answer}`).toBe(false)
        }
        if (answer.includes('pathPrefix') && answer.includes('is not written as a URL carries it')) refused++
      }),
      { seed: 0x9a7f, numRuns: 300 },
    )
    // Each draft was refused at its pathPrefix (the check that quoted the parsed path): the property is not vacuous.
    expect(refused).toBe(300)
  })

  it("a private key given to pathPrefix by ${file:} is not quoted (the check quoted it with %20 for its spaces, line breaks dropped)", () => {
    const draft = `admin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://a.example\n    pathPrefix: "/\${file:${pki.file('client.key')}}"\n    tls: { dir: /nonexistent }\n`
    const answer = JSON.stringify(validateDraft(file, draft, current, restartBaseline(current)))
    expect(answer).toContain('pathPrefix')
    expect(answer).not.toMatch(/BEGIN|PRIVATE|KEY-----/)
  })
})

