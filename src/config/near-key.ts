/**
 * The known key an unknown one was probably meant to be (`prot` → `port`, `alowPrivate` →
 * `allowPrivate`, `MinVersion` → `minVersion`): what `unknown key` suggests.
 */

/** `unknown key`, with the known key a typo away, or what to write for a YAML merge key (which YAML 1.2 has not: `<<` is read as a key). */
export function unknownKey(key: string, parent: unknown, path: readonly (string | number)[]): string {
  if (key === '<<') {
    const name = path[path.length - 1]
    return `YAML merge keys (<<) are not supported: alias the whole mapping (${typeof name === 'string' ? name : 'key'}: *anchor) or write its keys out`
  }
  const near = nearestKey(key, Object.keys((parent as { properties?: object } | undefined)?.properties ?? {}))
  return near === undefined ? 'unknown key' : `unknown key (did you mean ${near}?)`
}

/** The closest of `known` to `key`, when a typo away (letter case aside, at most 1 edit per 4 letters, at most 2); else undefined. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.min(2, Math.max(1, Math.floor(key.length / 4)))
  let best: { name: string; distance: number } | undefined
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase())
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name, distance }
  }
  return best?.name
}

/** Levenshtein distance, a swap of two neighbours counting as one edit (Damerau, optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1)
      ;(rows[i] as number[])[j] = d
    }
  }
  return at(a.length, b.length)
}
