/**
 * exactJson: JSON text that parses back to the very value (-0 and ±Infinity included), the same
 * text on a Node with JSON.rawJSON and on one without it (Node 20, which `npm run bench` and the
 * demo's own process may run on: the module once called JSON.rawJSON as it loaded and stopped them).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exactJson } from '../../src/callers/exact-json.js'

/** Values JSON.parse can make, with the numbers JSON.stringify loses, and strings that look like its markers. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.double(), fc.constantFrom(-0, Infinity, -Infinity, 0), fc.integer()),
    fc.oneof(fc.string(), fc.constantFrom('exact-json-', 'exact-json-00:-0', '"-0"', '1e400')),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
  ),
})).value

/** The value with NaN (JSON has none) as null, as JSON.parse of any writer's text would give. */
const withoutNaN = (v: unknown): unknown => (typeof v === 'number' && Number.isNaN(v) ? null : Array.isArray(v) ? v.map(withoutNaN) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutNaN(x)])) : v)

describe('exactJson', () => {
  it('parses back to the same value, -0 and ±Infinity included (seeded property)', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        const back: unknown = JSON.parse(exactJson(v))
        // toStrictEqual tells -0 from 0 (Object.is) at any depth.
        expect(back).toStrictEqual(withoutNaN(v))
      }),
      { seed: 20261206, numRuns: 2000 },
    )
  })

  // The machine's own Node: 20 here, without JSON.rawJSON; skipped where it has it (nothing to compare).
  const hostNode = '/usr/bin/node'
  const hasRaw = existsSync(hostNode) && execFileSync(hostNode, ['-p', 'typeof JSON.rawJSON'], { encoding: 'utf8' }).trim() === 'function'
  it.skipIf(!existsSync(hostNode) || hasRaw)('writes the same text on a Node without JSON.rawJSON', () => {
    const sample = { a: -0, b: [Infinity, -Infinity, 1.5, 'exact-json-'], c: { d: -0, e: 'x' }, f: 0 }
    const module = pathToFileURL(resolve('dist/src/callers/exact-json.js')).href
    const script = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(m.exactJson(${exactJson(sample)})))`
    const text = execFileSync(hostNode, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(text).toBe(exactJson(sample))
    expect(text).toBe('{"a":-0,"b":[1e400,-1e400,1.5,"exact-json-"],"c":{"d":-0,"e":"x"},"f":0}')
  })
})
