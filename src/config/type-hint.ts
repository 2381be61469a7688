/**
 * What to write when a value has the wrong YAML type: the mistakes of a hurried edit, named with
 * their fix. `port: "8080"` (quoted), `via: yes` (YAML 1.2 reads yes/no/on/off as text),
 * `consumerKey: 0123` (read as the number 123), `port: ${env:PORT}` (a reference gives text).
 */

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
