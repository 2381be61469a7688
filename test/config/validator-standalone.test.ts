/**
 * The config validator is Ajv's standalone code, generated when `npm run schema` ran
 * (config-validator.ts), not Ajv compiling the schema at run time. Its verdicts and error
 * objects (from which every schema message is written: keyword, path, params, the schema's
 * `$comment` and maxDuration bound) must be exactly those of the validator the gateway compiled
 * at run time before: the same options and the `maxDuration` keyword as it was then (a
 * `validate` function). Compared on the example config and on configs drawn from the schema
 * itself: every property, mostly valid values, with wrong types, unknown keys, missing required
 * keys, values around each minimum, maximum, length and duration maximum mixed in.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { configValidator } from '../../src/config/load.js'
import { configSchema } from '../../src/config/schema.js'
import { isDuration, parseDuration } from '../../src/config/units.js'

/** The validator as load.ts compiled it at run time until the generated code replaced it. */
function runtimeValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true, code: { optimize: false } })
  ajv.addKeyword({
    keyword: 'maxDuration',
    schemaType: 'object',
    errors: false,
    validate: (bound: { max: string }, data: unknown) => !isDuration(data) || parseDuration(data) <= parseDuration(bound.max),
  })
  ajv.addKeyword({ keyword: 'maximumWhy', schemaType: 'string' })
  return ajv.compile(configSchema)
}

/** A schema node, as far as the generator reads it. */
interface Node {
  type?: string | string[]
  enum?: readonly unknown[]
  anyOf?: readonly Node[]
  properties?: Record<string, Node>
  required?: readonly string[]
  additionalProperties?: boolean | Node
  propertyNames?: { pattern: string }
  items?: Node
  minItems?: number
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  maxDuration?: { max: string }
}

/** A value of no particular type: what a config may hold anywhere by mistake. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 100_000 }),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 12 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.integer(), { maxKeys: 2 }),
)

const UNITS = ['ms', 's', 'm', 'h'] as const

/** A duration of at most `max`, in milliseconds or with a unit. */
function durationWithin(max: string): fc.Arbitrary<unknown> {
  const ms = parseDuration(max)
  return fc.oneof(fc.integer({ min: 0, max: Math.min(ms, 2 ** 40) }), fc.constantFrom(...UNITS).chain((u) => fc.integer({ min: 0, max: Math.min(Math.floor(ms / parseDuration(`1${u}`)), 2 ** 40) }).map((n) => `${n}${u}`)))
}

/** Durations around `max`: at, just past and below it, in milliseconds and with a unit. */
function aroundDuration(max: string): fc.Arbitrary<unknown> {
  const ms = parseDuration(max)
  return fc.oneof(
    fc.constant(max),
    fc.integer({ min: Math.max(0, ms - 2), max: ms + 2 }),
    fc.constantFrom(...UNITS).map((u) => `${Math.floor(ms / parseDuration(`1${u}`)) + 1}${u}`),
    fc.constantFrom(...UNITS).map((u) => `${Math.floor(ms / parseDuration(`1${u}`))}${u}`),
  )
}

function stringWithin(node: Node): fc.Arbitrary<unknown> {
  const fits = (s: string): boolean => s.length >= (node.minLength ?? 0) && s.length <= (node.maxLength ?? Infinity)
  return node.pattern !== undefined
    ? fc.stringMatching(new RegExp(node.pattern, 'u')).filter(fits)
    : fc.string({ minLength: node.minLength ?? 0, maxLength: node.maxLength ?? (node.minLength ?? 0) + 12 })
}

function stringAround(node: Node): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [fc.string({ maxLength: 10 })]
  if (node.minLength !== undefined) options.push(fc.string({ minLength: Math.max(0, node.minLength - 1), maxLength: node.minLength + 1 }))
  if (node.maxLength !== undefined) options.push(fc.string({ minLength: node.maxLength - 1, maxLength: node.maxLength + 1 }))
  return fc.oneof(...options)
}

function numberAround(node: Node, integer: boolean): fc.Arbitrary<unknown> {
  const near = [node.minimum, node.maximum].filter((n): n is number => n !== undefined)
  const whole = fc.oneof(fc.integer({ min: -2, max: 1_000_000 }), ...near.map((n) => fc.integer({ min: n - 2, max: n + 2 })))
  return integer ? fc.oneof(whole, fc.double({ min: -1, max: 1e6, noNaN: true })) : whole
}

/**
 * Values for `node`: each node is of its shape and within its bounds, or (weight `faults` to
 * 1,000) out of them: another type, a number or string around a bound, a duration past its maximum,
 * an object missing a required key or with a key of no schema.
 */
function valueFor(node: Node, faults: number, cache: Map<Node, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const known = cache.get(node)
  if (known) return known
  const child = (n: Node): fc.Arbitrary<unknown> => valueFor(n, faults, cache)
  const valid: fc.Arbitrary<unknown>[] = []
  const invalid: fc.Arbitrary<unknown>[] = [junk]
  const types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type]
  if (node.enum) valid.push(fc.constantFrom(...node.enum))
  else if (node.maxDuration) {
    valid.push(durationWithin(node.maxDuration.max))
    invalid.push(aroundDuration(node.maxDuration.max), ...(node.anyOf ?? []).map(child))
  } else if (node.anyOf) valid.push(...node.anyOf.map(child))
  for (const type of node.enum ? [] : types) {
    if (type === 'object') {
      valid.push(objectOf(node, child, false))
      invalid.push(objectOf(node, child, true))
    } else if (type === 'array') {
      const items = node.items ? child(node.items) : junk
      const minLength = node.minItems ?? 0
      valid.push(fc.uniqueArray(items, { minLength, maxLength: minLength + 2, selector: (v) => JSON.stringify(v) }))
      invalid.push(fc.array(items, { maxLength: minLength + 2 }))
    } else if (type === 'string') {
      valid.push(stringWithin(node))
      invalid.push(stringAround(node))
    } else if (type === 'integer' || type === 'number') {
      const min = node.minimum ?? 0
      valid.push(fc.integer({ min, max: node.maximum ?? min + 100_000 }))
      invalid.push(numberAround(node, type === 'integer'))
    } else if (type === 'boolean') valid.push(fc.boolean())
  }
  const drawn = faults === 0 ? fc.oneof(...valid) : fc.oneof({ weight: 1000, arbitrary: fc.oneof(...valid) }, { weight: faults, arbitrary: fc.oneof(...invalid) })
  cache.set(node, drawn)
  return drawn
}

/** An object of `node`'s properties; `faulty`: a required key may be missing, and a key of no schema may be there. */
function objectOf(node: Node, child: (n: Node) => fc.Arbitrary<unknown>, faulty: boolean): fc.Arbitrary<unknown> {
  const required = new Set(node.required ?? [])
  const present = fc.tuple(
    ...Object.entries(node.properties ?? {}).map(([key, n]) => (required.has(key) && !faulty ? child(n) : fc.option(child(n), { freq: required.has(key) ? 8 : 2, nil: undefined })).map((v) => [key, v] as const)),
  )
  const named = typeof node.additionalProperties === 'object' || node.propertyNames !== undefined
  const keyOf = node.propertyNames ? (faulty ? fc.string({ maxLength: 6 }) : fc.stringMatching(new RegExp(node.propertyNames.pattern, 'u'))) : fc.string({ minLength: 1, maxLength: 8 })
  const extra: fc.Arbitrary<Record<string, unknown>> = named
    ? fc.dictionary(keyOf, typeof node.additionalProperties === 'object' ? child(node.additionalProperties) : junk, { maxKeys: 2 })
    : faulty ? fc.dictionary(fc.constantFrom('unknownKey', 'constructor', '__proto__', 'x'), junk, { maxKeys: 1 }) : fc.constant({})
  return fc.tuple(present, extra).map(([entries, more]) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of entries) if (v !== undefined) out[k] = v
    // defineProperty: a drawn `__proto__` is a key, as YAML parsing makes it, not a prototype.
    for (const [k, v] of Object.entries(more)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
    return out
  })
}

/** Configs drawn from the schema; `faults`: how often a node is out of its bounds (per 1,000). */
const configs = (faults: number): fc.Arbitrary<unknown> => valueFor(configSchema as unknown as Node, faults, new Map())

/** An error object as the messages read it, the schema parts as their JSON text (the generated code holds copies). */
const comparable = (errors: readonly ErrorObject[] | null | undefined): string => JSON.stringify(errors ?? [])

describe('the generated config validator judges as Ajv compiling the schema at run time did', () => {
  const reference = runtimeValidator()
  const generated = configValidator()
  const judge = (validate: ValidateFunction, value: unknown): { valid: boolean; errors: string } => {
    const valid = validate(value) as boolean
    return { valid, errors: comparable(validate.errors) }
  }

  it('the example config (config/gateway.yaml): valid to both', () => {
    const example = parse(readFileSync('config/gateway.yaml', 'utf8')) as unknown
    expect(judge(generated, example)).toEqual(judge(reference, example))
    expect(judge(generated, example).valid).toBe(true)
  })

  it('property: configs drawn from the schema, valid ones and ones with few or many faults, get the same verdict and error objects (seeded, 2,000 runs)', () => {
    const drawn = { valid: 0, invalid: 0 }
    const keywords = new Set<string>()
    fc.assert(
      fc.property(fc.oneof(configs(0), configs(3), configs(80)), (config) => {
        const want = judge(reference, config)
        drawn[want.valid ? 'valid' : 'invalid']++
        for (const e of reference.errors ?? []) keywords.add(e.keyword)
        expect(judge(generated, config)).toEqual(want)
      }),
      { seed: 27_035, numRuns: 2000 },
    )
    // Both verdicts were drawn, and an error of every keyword the schema's messages are written from.
    expect(drawn.valid).toBeGreaterThan(300)
    expect(drawn.invalid).toBeGreaterThan(300)
    expect([...keywords].sort()).toEqual(expect.arrayContaining(['additionalProperties', 'anyOf', 'enum', 'maxDuration', 'maximum', 'minLength', 'minimum', 'pattern', 'required', 'type']))
  })
})
