/**
 * The key index compares a plain ASCII key against a name without building the key's folded
 * forms (most keys of a large caller object are plain ASCII, and folding each one was most of the
 * index's cost). The shortcut must decide exactly as the full comparison does, for every name —
 * non-ASCII names included (ſ's upper case is S, the Kelvin sign folds to k, ß upper-cases to SS).
 */
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { jsonNameFoldKeys } from '../../src/proxy/parameter-names.js'
import { asciiKeyMatcher, setJsonFields } from '../../src/proxy/steps/json-payload.js'

const tricky = ['ſ', 'K', 'ß', 'İ', 'ı', 'ﬀ', 'ﬆ', 'Σ', 'ς', 'i̇', '\u0130\u0307']
const nameChar = fc.oneof(fc.constantFrom(...tricky), fc.constantFrom(...'aAsSkKiIfFtTzZ_.-0'.split('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }))
const names = fc.array(nameChar, { minLength: 1, maxLength: 5 }).map((cs) => cs.join(''))
const asciiKeys = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'aAsSkKiIfFtTzZ_.-0'.split('')), maxLength: 6 }),
  fc.string({ unit: fc.integer({ min: 1, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 6 }),
)

it('a plain ASCII key matches a name exactly when their folded forms meet (fast-check, 20,000 runs)', () => {
  fc.assert(
    fc.property(names, asciiKeys, (name, key) => {
      const wanted = jsonNameFoldKeys(name)
      expect(asciiKeyMatcher(wanted)(key)).toBe(jsonNameFoldKeys(key).some((f) => wanted.includes(f)))
    }),
    { seed: 0xa5c11, numRuns: 20_000 },
  )
})

it('names whose folds reach ASCII keys: each one\'s matching keys, through the whole body step', () => {
  // ſ upper-cases to S, K (Kelvin) lower-cases to k: ASCII keys that binders read as these names.
  const body = Buffer.from(JSON.stringify({ S: 1, s: 2, k: 3, K: 4, kept: 5 }))
  expect(JSON.parse(setJsonFields(body, [], [['ſ']]).toString())).toEqual({ k: 3, K: 4, kept: 5 })
  expect(JSON.parse(setJsonFields(body, [], [['\u212a']]).toString())).toEqual({ S: 1, s: 2, kept: 5 })
})
