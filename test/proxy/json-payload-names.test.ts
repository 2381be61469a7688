/**
 * A JSON payload field is the only value a case-insensitive binder reads under its key path:
 * at every level of the dotted path, caller keys that ASP.NET Core (System.Text.Json,
 * PropertyNameCaseInsensitive; Newtonsoft), Jackson (ACCEPT_CASE_INSENSITIVE_PROPERTIES) or Go's
 * encoding/json (EqualFold, on by default) would read as the path's key are removed, subtrees
 * and all, and every other key keeps its value. Judged against binder models written here, apart
 * from src/: whole-string lower/upper case, per code point upper case (OrdinalIgnoreCase), and
 * simple case folding as the JS engine's own /iu regular expressions apply it (Go's EqualFold),
 * Jackson under a Turkish default Locale (İ is i, I is ı) and cJSON (a key ends at NUL, ASCII case
 * ignored). Removal may go further (I, ı, İ, i as one letter), never less far.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../src/config/index.js'
import { GatewayError } from '../../src/errors.js'
import { compileDestination, type CompiledField, type Endpoint } from '../../src/gateway/index.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { jsonNameFolds } from '../../src/proxy/parameter-names.js'
import { applyAuthorization } from '../../src/proxy/steps/apply-authorization.js'
import { buildUpstreamTarget, toOutboundUrl } from '../../src/proxy/upstream-target.js'

const GATEWAY_VALUE = 'gw-value'

function admitted(keys: readonly string[], body: string): Admitted {
  const url = 'https://api.partner.test/b'
  const fields: CompiledField[] = keys.map((key) => ({ type: 'payload', key, template: parseTemplate(GATEWAY_VALUE) }))
  const endpoint = { name: 'ep', url, config: {}, fields, destination: compileDestination(url, undefined) } as unknown as Endpoint
  const target = buildUpstreamTarget(endpoint, undefined, '/y', '', 'append')
  let bytes: Buffer = Buffer.from(body)
  const outbound = { method: 'POST', url: toOutboundUrl(target), headers: { 'content-type': 'application/json' }, body: { present: true, bytes: async () => bytes, replace: (b: Buffer) => void (bytes = b) } }
  return { endpoint, target, caller: { appId: 'bot', claims: {} }, auth: {}, outbound } as unknown as Admitted
}

/** The JSON sent upstream, or the refusal. */
async function sent(keys: readonly string[], body: string): Promise<string | GatewayError> {
  const ctx = admitted(keys, body)
  try {
    await applyAuthorization.run(ctx)
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
  return (await ctx.outbound.body.bytes()).toString('utf8')
}

// --- binder models (the specification) ---
const isOne = (s: string): boolean => [...s].length === 1
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase())
const escape = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
const upperEach = (s: string): string => [...s].map((c) => (isOne(c.toUpperCase()) ? c.toUpperCase() : c)).join('')
type Binder = (key: string, name: string) => boolean
const BINDERS: Record<string, Binder> = {
  // Jackson lower-cases; a binder comparing upper-cased strings reads ß as SS.
  wholeString: (k, n) => k.toLowerCase() === n.toLowerCase() || k.toUpperCase() === n.toUpperCase(),
  // .NET OrdinalIgnoreCase: each code point's simple upper case (ı is I).
  ordinalIgnoreCase: (k, n) => upperEach(k) === upperEach(n),
  // Go's EqualFold: Unicode simple case folding, which /iu applies code point by code point (K is k, ſ is s).
  equalFold: (k, n) => new RegExp(`^${escape(n)}$`, 'iu').test(k),
  // Jackson under a Turkish or Azeri default Locale: İ lower-cases to i, I to ı.
  jacksonTurkic: (k, n) => k.toLocaleLowerCase('tr') === n.toLocaleLowerCase('tr'),
  // cJSON's cJSON_GetObjectItem: the key ends at NUL, compared with ASCII tolower.
  cJSON: (k, n) => asciiLower(k.split('\0', 1)[0] as string) === asciiLower(n),
}
const readsAs = (key: string, name: string): boolean => Object.values(BINDERS).some((b) => b(key, name))
/** What may go (a superset of readsAs): before any NUL, with I, ı, İ and i as one letter, read as `name` by some binder. */
const mayGo = (key: string, name: string): boolean => {
  const merge = (s: string): string => s.replace(/[iI\u0131\u0130]\u0307?/g, 'i')
  const cut = key.split('\0', 1)[0] as string
  return readsAs(key, name) || readsAs(cut, name) || readsAs(merge(cut), merge(name))
}

/** Every value a binder reads at `path`; an object that is not one on the way counts as a foreign reading. */
function readings(node: unknown, path: readonly string[], binder: Binder): unknown[] {
  if (path.length === 0) return [node]
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return ['<not an object>']
  return Object.entries(node).flatMap(([k, v]) => (binder(k, path[0] as string) ? readings(v, path.slice(1), binder) : []))
}

/** Every caller key off the path (no binder reads it as the path's key) is still there with its value. */
function expectKept(original: unknown, out: unknown, path: readonly string[]): void {
  if (path.length === 0 || original === null || typeof original !== 'object' || Array.isArray(original)) return
  const o = original as Record<string, unknown>
  const s = out as Record<string, unknown>
  for (const k of Object.keys(s)) expect(k === path[0] || Object.hasOwn(o, k), `added key ${JSON.stringify(k)}`).toBe(true)
  for (const [k, v] of Object.entries(o)) {
    if (k === path[0]) expectKept(v, s[k], path.slice(1))
    else if (!mayGo(k, path[0] as string)) expect(s[k], `kept ${JSON.stringify(k)}`).toEqual(v)
  }
}

// --- generators ---
const SPELLINGS: Record<string, string[]> = {
  i: ['i', 'I', '\u0131', '\u0130', 'I\u0307'], k: ['k', 'K', '\u212a'], s: ['s', 'S', '\u017f'], σ: ['σ', 'Σ', 'ς'], µ: ['µ', 'μ', 'Μ'],
  '\u0130': ['\u0130', 'i\u0307', 'I\u0307', 'i'], '\u0390': ['\u0390', '\u1fd3'], '\ufb05': ['\ufb05', '\ufb06'], ǆ: ['ǆ', 'ǅ', 'Ǆ'],
}
const spellingsOf = (c: string): string[] => SPELLINGS[c] ?? (c.toLowerCase().length === 1 ? SPELLINGS[c.toLowerCase()] : undefined) ?? [...new Set([c, c.toLowerCase(), c.toUpperCase()])]

/** The name in another case, per character (Unicode specials included), or a near miss. */
function variantOf(name: string): fc.Arbitrary<string> {
  const chars = [...name]
  const respelled = fc.tuple(...chars.map((c) => fc.constantFrom(...spellingsOf(c)))).map((cs) => cs.join(''))
  const nearMiss = fc.constantFrom(`${name}_`, `${name}s`, name.slice(1), `${name}.x`, ` ${name}`, name.replace(/ss/gi, 'ß'), name.replace(/ss/gi, '\u1e9e'), `${name}\u0000`, `${name}\u0000x`)
  return fc.oneof({ weight: 5, arbitrary: respelled }, { weight: 2, arbitrary: nearMiss })
}

const scalar = fc.oneof(fc.constantFrom('"caller"', '1', 'null', 'true', '[]', '[{"acct":"x"}]', '{"ACCT":"y","other":2}'), fc.string({ maxLength: 4 }).map((s) => JSON.stringify(s)))
const OTHER_KEYS = ['other', 'id', 'accts', 'x.acct', '__proto__', 'constructor', '']

/** A JSON object (as text, so duplicate and `__proto__` keys reach the parser) around `path[from]`. */
function objectAt(path: readonly string[], from: number): fc.Arbitrary<string> {
  const name = path[from] as string
  const key = fc.oneof({ weight: 2, arbitrary: fc.constant(name) }, { weight: 6, arbitrary: variantOf(name) }, { weight: 2, arbitrary: fc.constantFrom(...OTHER_KEYS) })
  const value = from + 1 < path.length ? fc.oneof({ weight: 4, arbitrary: objectAt(path, from + 1) }, { weight: 1, arbitrary: scalar }) : scalar
  return fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)
}

const FIELD_KEYS = ['acct', 'auth.acct', 'Risk.kyc.ssn', 'σ.\u0390d.\ufb05µ', 'ǆ.isk', 'meta.\u0130ban']

describe('JSON payload fields', () => {
  it('remove the review\'s shadows: {"ACCT":…}, {"Acct":…}, and {"Auth":{…}} beside auth.acct', async () => {
    expect(await sent(['acct'], '{"ACCT":"999","Acct":"998","b":1}')).toBe(`{"b":1,"acct":"${GATEWAY_VALUE}"}`)
    expect(await sent(['auth.acct'], '{"Auth":{"acct":"x"},"c":2}')).toBe(`{"c":2,"auth":{"acct":"${GATEWAY_VALUE}"}}`)
    expect(await sent(['auth.acct'], '{"auth":{"ACCT":"x","pin":"1"},"AUTH":{"acct":"y"}}')).toBe(`{"auth":{"pin":"1","acct":"${GATEWAY_VALUE}"}}`)
    // Go's EqualFold: the Kelvin sign is k and the long s is s; .NET reads ı as I; Jackson under a
    // Turkish Locale İ as i; cJSON ends a key at NUL. Nothing else is read as kiss.
    expect(await sent(['kiss'], '{"\u212aiss":1,"ki\u017fs":2,"k\u0131ss":3,"k\u0130ss":4,"KISS\\u0000x":5,"kis":6}')).toBe(`{"kis":6,"kiss":"${GATEWAY_VALUE}"}`)
    // Not an object on the path is still refused, as before; a shadow that is not one just goes.
    expect(await sent(['auth.acct'], '{"auth":"x"}')).toMatchObject({ reason: 'unsupported_payload' })
    expect(await sent(['auth.acct'], '{"AUTH":"x"}')).toBe(`{"auth":{"acct":"${GATEWAY_VALUE}"}}`)
  })

  it('set keys such as constructor.id and __proto__ as own properties of the document', async () => {
    expect(await sent(['constructor.id', '__proto__'], '{"a":1}')).toBe(`{"a":1,"constructor":{"id":"${GATEWAY_VALUE}"},"__proto__":"${GATEWAY_VALUE}"}`)
  })

  it('fold every cased code point as simple case folding does (the JS engine\'s /iu matching is the reference)', () => {
    const cased: string[] = []
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue
      const c = String.fromCodePoint(cp)
      if (c.toLowerCase() !== c || c.toUpperCase() !== c || /\p{Changes_When_Casefolded}|\p{Cased}/u.test(c)) cased.push(c)
    }
    const all = cased.join('')
    const byFold = new Map<string, Set<string>>()
    for (const c of cased) {
      const folded = jsonNameFolds(c)[2]
      byFold.set(folded, (byFold.get(folded) ?? new Set()).add(c))
    }
    let pairs = 0
    for (const c of cased) {
      const same = new Set([...all.matchAll(new RegExp(escape(c), 'giu'))].map(([d]) => d))
      pairs += same.size
      // Exactly the characters /iu matches share the fold: none missing (Go would merge them), none extra (it would not).
      expect([...(byFold.get(jsonNameFolds(c)[2]) ?? [])].sort(), `U+${c.codePointAt(0)?.toString(16)}`).toEqual([...same].sort())
    }
    expect(pairs).toBeGreaterThan(cased.length) // the reference found the case pairs, not only each character itself
  })

  it.each(FIELD_KEYS)('for any caller body with spellings of %s at every level: every binder model reads only the gateway\'s value there, and every other key stays (3,000 cases)', async (fieldKey) => {
    const path = fieldKey.split('.')
    let shadowed = 0
    await fc.assert(
      fc.asyncProperty(objectAt(path, 0), async (body) => {
        const out = await sent([fieldKey], body)
        const original = JSON.parse(body) as Record<string, unknown>
        // Refused only when the exact key on the way holds something other than an object.
        let node: unknown = original
        let blocked = false
        for (const part of path.slice(0, -1)) {
          const next = node !== null && typeof node === 'object' && Object.hasOwn(node, part) ? (node as Record<string, unknown>)[part] : undefined
          if (next !== undefined && (next === null || typeof next !== 'object' || Array.isArray(next))) blocked = true
          node = next
          if (next === undefined || blocked) break
        }
        if (blocked) return void expect(out).toMatchObject({ reason: 'unsupported_payload' })
        if (Object.values(BINDERS).some((b) => readings(original, path, b).length > 0)) shadowed++
        expect(typeof out, String(out)).toBe('string')
        const doc = JSON.parse(out as string) as unknown
        for (const [name, binder] of Object.entries(BINDERS)) expect(readings(doc, path, binder), `${name}: ${body} → ${String(out)}`).toEqual([GATEWAY_VALUE])
        expectKept(original, doc, path)
      }),
      { seed: 20261901, numRuns: 3000 },
    )
    // Most bodies must carry something a binder reads at the key path, or the property says little.
    expect(shadowed).toBeGreaterThan(1500)
  })
})
