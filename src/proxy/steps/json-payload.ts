/**
 * Payload fields in a JSON body: the body is parsed (after a nesting-depth check), each field set
 * at its dotted key path, and every caller key a backend may read as the same key removed
 * (parameter-names.ts: case-insensitive binders; beside `a.b.c`, the literal keys `"a.b.c"` and
 * `"b.c"` lodash's `_.get` prefers), then re-serialised. Numbers keep the caller's exact text
 * (JSON.parse would turn 12345678901234567890 into 12345678901234567000, 1.10 into 1.1); docs/paths.md.
 */
import { GatewayError } from '../../errors.js'
import { jsonNameFoldKeys } from '../parameter-names.js'
import { asciiJsonString, bodyCharsetOf, charsetProblem, decodingOf, encodeJson, isRawJson } from './json-charset.js'
import { hasDuplicateKeys } from './json-duplicate-keys.js'
import { parseKeepingNumbers } from './json-numbers.js'

/**
 * Deepest nesting accepted in a JSON body that payload fields are set in: far above any real API
 * payload (a few tens of levels), far below where V8's recursive JSON.stringify overflows its
 * stack (thousands), so a ~10 KB body of 5,000 "[" is a 400, never a 500.
 */
export const MAX_JSON_DEPTH = 256

/** True for a JSON media type (`application/json`, `application/*+json`), parameters allowed. */
export function isJson(ct: string | undefined): boolean {
  return ct !== undefined && /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(ct)
}

/**
 * True for a Content-Type some backend reads as JSON beside the query: Laravel's isJson() looks
 * for "/json" or "+json" anywhere in it (`text/json`, `x/y; a=/json`); compared ignoring case.
 */
export function readsAsJson(ct: string | undefined): boolean {
  return ct !== undefined && /[/+]json/i.test(ct)
}

/**
 * The deepest nesting of `{`/`[` in JSON text, scanned once byte by byte outside strings (an
 * escaped quote does not end one; UTF-8 continuation bytes are never ASCII). Stops as soon as the
 * depth passes `stopAbove`, returning that depth.
 */
export function jsonNestingDepth(bytes: Uint8Array, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (inString) {
      if (b === 0x5c) i++ // backslash: the next byte is escaped, whatever it is
      else if (b === 0x22) inString = false
    } else if (b === 0x22) inString = true
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > deepest && (deepest = depth) > stopAbove) return deepest
    } else if (b === 0x7d || b === 0x5d) depth--
  }
  return deepest
}

/** Sets an own property (`__proto__` included) as a JSON document holds it. */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true })
}

/** A key of ASCII without NUL: jsonNameFoldKeys gives it `l`/`f`/`t` + its lower case and `u` + its upper case. */
const PLAIN_ASCII = /^[\x01-\x7f]*$/
const LATIN1 = /^[\x00-\xff]*$/

/**
 * Whether a plain ASCII key shares a folded form with `wanted` (jsonNameFoldKeys of a name),
 * without building the key's forms: most keys of a large caller object are plain ASCII, and
 * folding each one (four tagged strings) was most of the cost of reading a 10 MiB body beside a
 * query field.
 */
export function asciiKeyMatcher(wanted: readonly string[]): (key: string) => boolean {
  const lower = new Set<string>()
  let upper: string | undefined
  for (const form of wanted) {
    if (form.startsWith('u')) upper = form.slice(1)
    else lower.add(form.slice(1))
  }
  return (key) => lower.has(key.toLowerCase()) || key.toUpperCase() === upper
}

/**
 * One object's keys with their folded forms, each key folded once however many fields pass
 * through the object (rather than once per field and level). Keys the gateway adds are folded
 * too. Plain parallel arrays, scanned per name: a map from every form to its keys cost a caller's
 * 10 MiB object of a million keys 27 s of one thread (a query field reads every JSON body).
 */
class FoldIndex {
  readonly #keys: string[] = []
  /** jsonNameFoldKeys of each key; undefined for a plain ASCII key (asciiKeyMatcher compares it). */
  readonly #forms: (string[] | undefined)[] = []

  /** `latin1`: keys were read one character per byte, and a backend ignoring the charset reads their bytes as UTF-8. */
  constructor(readonly node: Record<string, unknown>, readonly latin1: boolean) {
    for (const key of Object.keys(node)) this.#add(key)
  }

  #add(key: string): void {
    this.#keys.push(key)
    const utf8 = this.latin1 && LATIN1.test(key) ? [Buffer.from(key, 'latin1').toString('utf8')] : []
    this.#forms.push(PLAIN_ASCII.test(key) ? undefined : [key, ...utf8].flatMap(jsonNameFoldKeys))
  }

  /** Removes every key but `keep` (`name` itself unless told; null: none) that a binder may read as `name`, subtrees and all. */
  removeShadows(name: string, keep: string | null = name): boolean {
    const wanted = jsonNameFoldKeys(name)
    const asciiShadows = asciiKeyMatcher(wanted)
    let removed = false
    for (let i = 0; i < this.#keys.length; i++) {
      const other = this.#keys[i] as string
      const forms = this.#forms[i]
      if (other === keep || !(forms === undefined ? asciiShadows(other) : forms.some((f) => wanted.includes(f)))) continue
      if (Object.hasOwn(this.node, other)) removed = delete this.node[other]
    }
    return removed
  }

  /** Sets `key` as an own property and indexes it. */
  set(key: string, value: unknown): void {
    if (!Object.hasOwn(this.node, key)) this.#add(key)
    setOwn(this.node, key, value)
  }
}

/**
 * Sets the key path `parts` in a JSON object, creating objects on the way; or, with `value`
 * undefined, only removes what a backend may read there. At every level the caller's keys that a
 * binder ignoring case reads as the path's key go, subtrees and all (beside the gateway's
 * `auth.acct`, `{"Auth":{…}}` would be a second object the backend merges or prefers), and so do
 * keys spelling the rest of the path with its dots (`"auth.acct"` at the top, which Laravel's
 * `input('auth.acct')` reads before the nested one). True when a caller key went.
 */
function setPath(indexOf: (node: Record<string, unknown>) => FoldIndex, target: Record<string, unknown>, parts: readonly string[], value: unknown, shown: string): boolean {
  let node = target
  let removed = false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const last = i === parts.length - 1
    const index = indexOf(node)
    // Removing only, the caller's own key at the path's end goes too.
    removed = index.removeShadows(part, last && value === undefined ? null : part) || removed
    if (!last) removed = index.removeShadows(parts.slice(i).join('.'), null) || removed
    if (last) {
      if (value !== undefined) index.set(part, value)
      return removed
    }
    const next = Object.hasOwn(node, part) ? node[part] : undefined
    if (next !== null && typeof next === 'object' && !Array.isArray(next) && !isRawJson(next)) node = next as Record<string, unknown>
    else if (value === undefined) return removed
    else if (next === undefined) index.set(part, (node = {}))
    else throw new GatewayError('unsupported_payload', `payload field "${shown}": "${part}" in the JSON body is not an object`)
  }
  return removed
}

/**
 * The JSON body with every payload field set and, for each of `readAs` (key paths a query field
 * is read under, parameter-names.ts jsonPathsOfQueryName), the caller's keys there removed
 * (Laravel's `input()` reads JSON keys over the query), read and written in `contentType`'s charset
 * (json-charset.ts). Refusals name the fields. A body with no payload field, nothing to remove and
 * no duplicate key is returned as it came, byte for byte; so is an empty one.
 */
export function setJsonFields(raw: Buffer, fields: readonly { key: string; value: string }[], readAs: readonly (readonly string[])[] = [], contentType?: string): Buffer {
  const charset = bodyCharsetOf(contentType)
  if (fields.length === 0 && raw.length === 0) return raw
  const names = fields.length > 0 ? `payload field(s) ${fields.map((f) => f.key).join(', ')}` : `query field(s) ${[...new Set(readAs.map((p) => p.join('.')))].join(', ')}`
  if (jsonNestingDepth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new GatewayError('bad_request', `${names}: the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`)
  let doc: unknown
  let restore = (out: Buffer): Buffer => out
  try {
    if (raw.length === 0) doc = {}
    else ({ doc, restore } = parseKeepingNumbers(raw, decodingOf(charset)))
  } catch {
    throw new GatewayError('bad_request', `${names}: the request body is not valid JSON`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    // Only fields to keep apart: a list or a scalar has no key a backend merges over the query.
    if (fields.length === 0) return raw
    throw new GatewayError('unsupported_payload', `${names}: the JSON body must be an object`)
  }
  const indexes = new Map<Record<string, unknown>, FoldIndex>()
  const indexOf = (node: Record<string, unknown>): FoldIndex => {
    let index = indexes.get(node)
    if (index === undefined) indexes.set(node, (index = new FoldIndex(node, charset !== 'utf-8')))
    return index
  }
  let removed = false
  for (const parts of readAs) removed = setPath(indexOf, doc as Record<string, unknown>, parts, undefined, parts.join('.')) || removed
  for (const f of fields) setPath(indexOf, doc as Record<string, unknown>, f.key.split('.'), asciiJsonString(f.value), f.key)
  // A first-wins backend would read a dropped copy of an object on a nested path (a top-level key's copies share its name).
  if (fields.length === 0 && !removed && !(readAs.some((p) => p.length > 1) && hasDuplicateKeys(raw, doc))) return raw
  const problem = charsetProblem(raw, charset)
  if (problem !== undefined) throw new GatewayError('bad_request', `${names}: the request body ${problem}`)
  try {
    return restore(encodeJson(JSON.stringify(doc), charset))
  } catch (e) {
    // Belt and braces behind the depth check: a stack overflow here is the body's shape, not ours.
    if (e instanceof RangeError) throw new GatewayError('bad_request', `${names}: the JSON body nests too deeply to re-serialise`)
    throw e
  }
}
