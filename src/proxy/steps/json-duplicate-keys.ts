/**
 * Duplicate keys in a caller's JSON object: JSON.parse keeps the last, and so do Jackson, Python,
 * PHP and Go, but some parsers keep the first and some refuse. A body the gateway re-serialises
 * holds each key once (its parsed view); one it would pass on as it came beside a query field
 * read at a nested key path is re-serialised too when it has duplicates, so that no backend reads
 * a copy of an object on the path the gateway's view dropped (a copy of a top-level key has its
 * name: when the gateway found none to remove, there is none in any copy).
 */

/** How many keys JSON text holds: strings outside strings followed (after whitespace) by `:`. */
function keyTokens(bytes: Uint8Array): number {
  let count = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (inString) {
      if (b === 0x5c) i++
      else if (b === 0x22) {
        inString = false
        let j = i + 1
        while (bytes[j] === 0x20 || bytes[j] === 0x09 || bytes[j] === 0x0a || bytes[j] === 0x0d) j++
        if (bytes[j] === 0x3a) count++
      }
    } else if (b === 0x22) inString = true
  }
  return count
}

/** How many own keys the parsed document's objects hold, all levels (at most MAX_JSON_DEPTH deep). */
function parsedKeys(node: object): number {
  let count = 0
  if (Array.isArray(node)) {
    for (const v of node) if (v !== null && typeof v === 'object') count += parsedKeys(v)
    return count
  }
  for (const key in node) {
    count++
    const v = (node as Record<string, unknown>)[key]
    if (v !== null && typeof v === 'object') count += parsedKeys(v)
  }
  return count
}

/** True when the JSON text `raw`, parsed as `doc`, has a key twice in one object (JSON.parse kept one). */
export function hasDuplicateKeys(raw: Uint8Array, doc: object): boolean {
  return keyTokens(raw) !== parsedKeys(doc)
}
