/**
 * Setting payload fields in a JSON body keeps the caller's numbers as written: JSON.parse then
 * JSON.stringify turned 12345678901234567890 into 12345678901234567000 (an order id changed on its
 * way to the backend) and 1.10 into 1.1. Property over generated documents with every kind of
 * number literal: the result is what the gateway made before (same structure and values as
 * doubles), and every number it holds has the caller's exact text at the same place (read with
 * lossless-json, which keeps number texts).
 */
import fc from 'fast-check'
import { isLosslessNumber, parse as losslessParse } from 'lossless-json'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { lossyNumbers } from '../../src/proxy/steps/json-numbers.js'
import { setJsonFields } from '../../src/proxy/steps/json-payload.js'

const FIELDS = [
  { key: 'acct', value: '42' },
  { key: 'auth.pin', value: '1234' },
]

/** Number literals JSON allows, many of which a double does not write back as they are. */
const numberLiteral = fc.oneof(
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
  fc.tuple(fc.integer({ min: -999_999, max: 999_999 }), fc.integer({ min: 0, max: 10 ** 6 }), fc.nat({ max: 3 })).map(([i, f, zeros]) => `${i}.${f}${'0'.repeat(zeros)}`),
  fc.tuple(fc.integer({ min: -99, max: 99 }), fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), fc.nat({ max: 30 })).map(([m, e, x]) => `${m}${e}${x}`),
  fc.constantFrom('-0', '0', '-0.0', '1.5', '100', '9007199254740993', '0.1', '1e400', '-1e-400'),
)
const key = fc.constantFrom('acct', 'ACCT', 'auth', 'Auth', 'id', 'amt', 'n', 'list', 'x.y', 'pin')
const value: fc.Arbitrary<string> = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, numberLiteral, numberLiteral, fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)), fc.constantFrom('true', 'false', 'null'), tie('object'), tie('array')),
  object: fc.uniqueArray(fc.tuple(key, tie('value') as fc.Arbitrary<string>), { selector: ([k]) => k, maxLength: 4 }).map((entries) => `{ ${entries.map(([k, v]) => `${JSON.stringify(k)} :${v}`).join(' ,')} }`),
  array: fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
})).value
const topObject = fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)

/** The same text with each number written the way a double writes it back (nothing left to keep). */
function canonical(text: string): string {
  const bytes = Buffer.from(text)
  let out = ''
  let at = 0
  for (const n of lossyNumbers(bytes)) {
    out += bytes.toString('utf8', at, n.start) + JSON.stringify(Number(bytes.toString('latin1', n.start, n.end)))
    at = n.end
  }
  return out + bytes.toString('utf8', at)
}

/** Every number of a lossless-json document, by its path, as its literal text. */
function numberTexts(doc: unknown, path = '$', into = new Map<string, string>()): Map<string, string> {
  if (isLosslessNumber(doc)) into.set(path, doc.value)
  else if (Array.isArray(doc)) doc.forEach((v, i) => numberTexts(v, `${path}[${i}]`, into))
  else if (doc !== null && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) numberTexts(v, `${path}.${JSON.stringify(k)}`, into)
  return into
}

describe('payload fields keep the caller\'s numbers', () => {
  it('keep 64-bit ids, trailing zeros, exponents and -0 as written', () => {
    const out = setJsonFields(Buffer.from('{"id":12345678901234567890,"amt":1.10,"big":1e400,"neg":-0,"list":[9007199254740993, 2.50],"acct":"caller"}'), FIELDS).toString()
    expect(out).toBe('{"id":12345678901234567890,"amt":1.10,"big":1e400,"neg":-0,"list":[9007199254740993,2.50],"acct":"42","auth":{"pin":"1234"}}')
  })

  it('refuse a malformed number as before (the markers never make a bad body valid)', () => {
    for (const body of ['{"a":1.2.3}', '{"a":--1}', '{"a":01}', '{"a":1e}', '{"a":12345678901234567890.}']) {
      expect(() => setJsonFields(Buffer.from(body), FIELDS), body).toThrow(GatewayError)
    }
  })

  it('a caller string that looks like a marker stays the caller\'s string', () => {
    const body = '{"s":"\\u0000mtlsgw-number-00-0","n":12345678901234567890}'
    const out = setJsonFields(Buffer.from(body), FIELDS).toString()
    expect(JSON.parse(out)).toMatchObject({ s: '\u0000mtlsgw-number-00-0' })
    expect(out).toContain('"n":12345678901234567890')
  })

  it('property: the same document as before, with every number\'s exact text where it was (seeded, 3,000 documents)', () => {
    fc.assert(
      fc.property(topObject, (text) => {
        const attempt = (body: string): { out: string } | { refused: string } => {
          try {
            return { out: setJsonFields(Buffer.from(body), FIELDS).toString() }
          } catch (e) {
            if (!(e instanceof GatewayError)) throw e
            return { refused: e.message }
          }
        }
        const got = attempt(text)
        const was = attempt(canonical(text))
        // Refused as before (a field path through a number, say), with the same words.
        if ('refused' in was || 'refused' in got) return void expect(got).toEqual(was)
        const out = got.out
        // The structure and values the gateway made before, numbers read as doubles (-0 as 0, and 1e400 as
        // the null it used to write: the exact texts are checked below).
        const doubles = (t: string): unknown => JSON.parse(t, (_, v: unknown) => (Object.is(v, -0) ? 0 : v === Infinity || v === -Infinity ? null : v))
        expect(doubles(out)).toEqual(doubles(was.out))
        // Each number left in the result is the caller's text at the same place.
        const before = numberTexts(losslessParse(text))
        for (const [path, literal] of numberTexts(losslessParse(out))) expect(literal, path).toBe(before.get(path))
      }),
      { seed: 2112, numRuns: 3000 },
    )
  })
})
