/**
 * What to write when a value has the wrong YAML type: the mistakes of a hurried edit, named with
 * their fix. `port: "8080"` (quoted), `via: yes` (YAML 1.2 reads yes/no/on/off as text),
 * `consumerKey: 0123` (read as the number 123), `port: ${env:PORT}` (a reference gives text).
 */

import { plainNumber } from './units.js'

/** A number past the schema's `maximum`, in plain digits, with the maximum and why (schema-operations.ts's boundedInteger). */
export function pastMaximum(value: number, limit: number, schema: { maximumWhy?: string } | undefined): string {
  return `${plainNumber(value)} is more than the maximum, ${limit}${schema?.maximumWhy === undefined ? '' : `: ${schema.maximumWhy}`}`
}

const YAML11_BOOLEANS = new Set(['yes', 'no', 'on', 'off', 'y', 'n'])

/**
 * `must be <expected>`, with its fix. `written` is the value as the file has it (before references
 * are resolved); `value` is what the schema saw. A value from a reference is never quoted.
 */
export function typeMismatch(expected: string, value: unknown, written: unknown): string {
  const base = `must be ${expected}`
  if (typeof value === 'string' && typeof written === 'string' && written.includes('${')) {
    return `${base}: a \${env:…} or \${file:…} reference gives text, so write the ${expected === 'boolean' ? 'value' : 'number'} itself here`
  }
  if (typeof value === 'string' && (expected === 'integer' || expected === 'number') && /^[+-]?[0-9]+(\.[0-9]+)?$/.test(value.trim())) {
    return `${base}: write ${value.trim()} without quotes`
  }
  if (typeof value === 'string' && expected === 'boolean') {
    const word = value.trim().toLowerCase()
    if (word === 'true' || word === 'false') return `${base}: write ${word} without quotes`
    if (YAML11_BOOLEANS.has(word)) return `${base}, true or false (YAML 1.2 reads ${value.trim()} as text)`
  }
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
    return `${base}: quote it (YAML read it as a ${typeof value === 'number' ? 'number, which drops leading zeros' : 'boolean'})`
  }
  return base
}

const UNIT_WORDS: Readonly<Record<string, { unit: string; times: number }>> = Object.fromEntries([
  ...['ms', 'msec', 'msecs', 'millisecond', 'milliseconds'].map((w) => [w, { unit: 'ms', times: 1 }]),
  ...['s', 'sec', 'secs', 'second', 'seconds'].map((w) => [w, { unit: 's', times: 1 }]),
  ...['m', 'min', 'mins', 'minute', 'minutes'].map((w) => [w, { unit: 'm', times: 1 }]),
  ...['h', 'hr', 'hrs', 'hour', 'hours'].map((w) => [w, { unit: 'h', times: 1 }]),
  ...['d', 'day', 'days'].map((w) => [w, { unit: 'h', times: 24 }]),
])
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }

/**
 * How to write a duration the schema refused, when the mistake is a common one: two units
 * (`1h30m` → `90m`), a unit word (`5 seconds` → `5s`, `2d` → `48h`), a number in quotes
 * (milliseconds only unquoted); undefined otherwise. `written` is the value as the file has it: one
 * from a reference is not shown.
 */
export function durationHint(written: unknown): string | undefined {
  if (typeof written !== 'string' || written.includes('${')) return undefined
  const value = written
  const text = value.trim()
  if (/^[0-9]+$/.test(text)) return `write ${text}s for seconds, or ${text} without quotes for milliseconds`
  const parts = [...text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)]
  if (parts.length > 1 && parts.map((p) => p[0]).join('') === text) {
    const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] as string] ?? 0), 0)
    const unit = ['h', 'm', 's', 'ms'].find((u) => Number.isInteger(ms / (UNIT_MS[u] as number))) as string
    return `one unit only: write ${ms / (UNIT_MS[unit] as number)}${unit}`
  }
  const word = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)$/.exec(text)
  const known = word ? UNIT_WORDS[(word[2] as string).toLowerCase()] : undefined
  if (word && known) return `write ${Number(word[1]) * known.times}${known.unit} (units: ms, s, m, h)`
  return undefined
}
