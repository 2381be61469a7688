/**
 * Seeded property: for a generated broken config (bundles, listener, OTLP, Redis and interception
 * files missing, a bad seal key, an RSA key unreadable, an unset `${env:}`; flow or block style,
 * any indentation, comments between sections), every problem `check` prints names a position,
 * and the line it names in the file holds the key it names. Before, the post-load problems
 * named no line (`g.yaml: store.sealKeys: …`, or the PEM file instead of the config).
 */
import fc from 'fast-check'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'

/** A section's settings, written in flow (`{ a: 1 }`) or block style at indentation `pad` under `lead`. */
function mapping(fields: readonly [string, string][], flow: boolean, pad: string, lead: string): string {
  return flow ? ` { ${fields.map(([k, v]) => `${k}: ${v}`).join(', ')} }\n` : `\n${fields.map(([k, v]) => `${lead}${pad}${k}: ${v}\n`).join('')}`
}

interface Style {
  flow: boolean
  pad: string
}

/** Each broken section as YAML text, by style; the store is one of several. */
const SECTIONS: Record<string, (s: Style) => string> = {
  listen: ({ flow, pad }) => `listen:\n${pad}host: 127.0.0.1\n${pad}port: 0\n${pad}tls:${mapping([['cert', 'gone-l.crt'], ['key', 'gone-l.key']], flow, pad, pad)}`,
  endpoint: ({ flow, pad }) => `endpoints:\n${pad}- name: partner\n${pad}  url: https://api.partner.test\n${pad}  profile: p\n${pad}  tls:${mapping([['cert', 'gone.crt'], ['key', 'gone.key'], ['roots', 'gone-r.crt']], flow, pad, `${pad}  `)}`,
  profile: ({ flow, pad }) => `profiles:\n${pad}- name: p\n${pad}  consumerKey: ck\n${pad}  signatureMethod: RSA-SHA1\n${pad}  privateKey: gone-rsa.pem\n${pad}  token:${mapping([['mode', 'static'], ['token', 't'], ['tokenSecret', 's']], flow, pad, `${pad}  `)}`,
  tracing: ({ flow, pad }) => `tracing:\n${pad}enabled: true\n${pad}otlp:\n${pad}${pad}endpoint: "https://127.0.0.1:1/v1/traces"\n${pad}${pad}tls:${mapping([['ca', 'gone-otlp.pem'], ['cert', 'gone-otlp.crt'], ['key', 'gone-otlp.key']], flow, pad, `${pad}${pad}`)}`,
  interception: ({ flow, pad }) => `interception:${mapping([['caCert', 'gone-ica.crt'], ['caKey', 'gone-ica.key']], flow, pad, '')}`,
}

const STORES: Record<string, (s: Style) => string> = {
  sealKey: ({ flow, pad }) => `store:\n${pad}sealKeys:\n${pad}${pad}-${mapping([['id', 'k1'], ['key', 'tooshort']], flow, pad, `${pad}  `).replace(/^\n\s*/, ' ')}`,
  envReference: ({ pad }) => `store:\n${pad}sealKeys: [{ id: k1, key: "\${env:MTLSGW_PROPERTY_GONE}" }]\n`,
  redis: ({ flow, pad }) => `store:\n${pad}kind: redis\n${pad}url: rediss://127.0.0.1:1\n${pad}redis:\n${pad}${pad}tls:${mapping([['ca', 'gone-redis.pem'], ['cert', 'gone-redis.crt'], ['key', 'gone-redis.key']], flow, pad, `${pad}${pad}`)}`,
  sqlite: ({ pad }) => `store:\n${pad}file: not-a-dir.txt/s.db\n`,
}

const APPS = (pad: string): string => `callers:\n${pad}required: false\n${pad}apps: [{ clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gw.test", endpoints: ["*"] }]\n`

const style = fc.record({ flow: fc.boolean(), pad: fc.constantFrom('  ', '    ') })
const brokenConfig = fc.record({
  sections: fc.uniqueArray(fc.constantFrom(...Object.keys(SECTIONS)), { minLength: 1 }),
  store: fc.option(fc.constantFrom(...Object.keys(STORES)), { nil: undefined }),
  styles: fc.array(style, { minLength: 7, maxLength: 7 }),
  comments: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
})

type BrokenConfig = typeof brokenConfig extends fc.Arbitrary<infer T> ? T : never

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-placed-property-'))
  writeFileSync(join(dir, 'not-a-dir.txt'), 'x')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The config text: the chosen sections (an endpoint always: a profile needs one), comments between some. */
function render(c: BrokenConfig): string {
  const names = [...new Set([...c.sections, ...(c.sections.includes('profile') ? ['endpoint'] : [])])]
  const parts = names.map((n, i) => (SECTIONS[n] as (s: Style) => string)(c.styles[i] as Style))
  if (!names.includes('listen')) parts.unshift('listen: { host: 127.0.0.1, port: 0 }\n')
  if (!names.includes('endpoint')) parts.push('endpoints: []\n')
  if (c.store !== undefined) parts.push((STORES[c.store] as (s: Style) => string)(c.styles[6] as Style), ...(c.store === 'redis' || c.store === 'sqlite' ? [APPS('  ')] : []))
  parts.unshift('admin: { enabled: false }\n')
  return parts.map((p, i) => (c.comments[i] ? `# section ${i}\n\n${p}` : p)).join('')
}

/** The last name in a key path (`store.sealKeys[0].key` → `key`). */
const lastName = (key: string): string => [...key.matchAll(/[^.[\]]+/g)].map((m) => m[0]).filter((p) => !/^\d+$/.test(p)).pop() ?? key

describe('check places every problem of a broken config at the key it names', () => {
  it('each problem line names file:line:column, and that line of the file holds its key', () => {
    let n = 0
    fc.assert(
      fc.property(brokenConfig, (c) => {
        const file = join(dir, `g-${n++}.yaml`)
        writeFileSync(file, render(c))
        const fileLines = readFileSync(file, 'utf8').split('\n')
        const output = runCheck(file).output.split('\n')
        const printed = output.filter((l) => l.startsWith(file))
        // Every problem counted is among them (none names a PEM file instead of the config).
        const counted = Number(/^check failed: (\d+) problem/.exec(output.find((l) => l.startsWith('check failed')) ?? '')?.[1])
        expect(printed.length).toBe(counted)
        for (const line of printed) {
          const m = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): ([^ ]+): `).exec(line)
          expect(m, line).not.toBeNull()
          const [, at, column, key] = m as unknown as [string, string, string, string]
          const text = fileLines[Number(at) - 1] ?? ''
          expect(text, `${line}\n${fileLines.join('\n')}`).toContain(`${lastName(key)}:`)
          expect(Number(column)).toBeLessThanOrEqual(text.length)
        }
      }),
      { seed: 0x51ace, numRuns: 150 },
    )
  })
})
