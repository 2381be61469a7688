/**
 * Payload fields in a JSON body: the body is parsed (after a nesting-depth check), each field set
 * at its dotted key path, and every caller key a backend may read as the same key removed
 * (parameter-names.ts: case-insensitive binders; beside `a.b.c`, the literal keys `"a.b.c"` and
 * `"b.c"` lodash's `_.get` prefers), then re-serialised. Numbers keep the caller's exact text
 * (JSON.parse would turn 12345678901234567890 into 12345678901234567000, and 1.10 into 1.1).
 * Rules in docs/paths.md.
 */
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../../errors.js'
import { jsonNameFoldKeys } from '../parameter-names.js'

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

const isNumberStart = (b: number): boolean => b === 0x2d || (b >= 0x30 && b <= 0x39)
const isNumberByte = (b: number): boolean => isNumberStart(b) || b === 0x2b || b === 0x2e || b === 0x45 || b === 0x65

/**
 * The number literals of JSON text (outside strings) that JSON.parse then JSON.stringify would not
 * write back as they are: more digits than a double holds, a trailing fraction zero, an exponent,
 * `-0`. Their byte ranges, in order; empty for most bodies.
 */
export function lossyNumbers(bytes: Uint8Array): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = []
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (inString) {
      if (b === 0x5c) i++
      else if (b === 0x22) inString = false
    } else if (b === 0x22) inString = true
    else if (isNumberStart(b)) {
      let end = i + 1
      while (end < bytes.length && isNumberByte(bytes[end] as number)) end++
      const text = Buffer.from(bytes.buffer, bytes.byteOffset + i, end - i).toString('latin1')
      if (JSON.stringify(Number(text)) !== text) out.push({ start: i, end })
      i = end - 1
    }
  }
  return out
}

/**
 * JSON.parse, keeping the exact text of the numbers `lossyNumbers` finds: each is parsed as a
 * string no caller can write (a random marker), and `restore` puts the literal back into the
 * serialised document. Everything else is JSON.parse's (the last of duplicate keys wins).
 */
function parseKeepingNumbers(raw: Buffer): { doc: unknown; restore(text: string): string } {
  const text = raw.toString('utf8')
  // Parsed as it is first: a malformed body (`1.2.3` included) is refused, never made valid by the markers.
  const plain: unknown = JSON.parse(text)
  const lossy = lossyNumbers(raw)
  if (lossy.length === 0) return { doc: plain, restore: (out) => out }
  const marker = `\u0000mtlsgw-number-${randomBytes(12).toString('hex')}-`
  const literals: string[] = []
  const pieces: Buffer[] = []
  let at = 0
  for (const n of lossy) {
    pieces.push(raw.subarray(at, n.start), Buffer.from(JSON.stringify(`${marker}${literals.length}`)))
    literals.push(raw.toString('latin1', n.start, n.end))
    at = n.end
  }
  pieces.push(raw.subarray(at))
  const doc: unknown = JSON.parse(Buffer.concat(pieces).toString('utf8'))
  // JSON.stringify writes the marker's NUL as \u0000: that is the text to look for.
  const written = new RegExp(`"${JSON.stringify(marker).slice(1, -1).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}(\\d+)"`, 'g')
  return { doc, restore: (out) => out.replace(written, (_, i: string) => literals[Number(i)] as string) }
}

/** Sets an own property (`__proto__` included) as a JSON document holds it. */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true })
}

/**
 * One object's keys by their folded forms, each key folded once however many fields pass through
 * the object (rather than once per field and level). Keys the gateway adds are indexed too.
 */
class FoldIndex {
  readonly #byForm = new Map<string, string[]>()

  constructor(readonly node: Record<string, unknown>) {
    for (const key of Object.keys(node)) this.#add(key)
  }

  #add(key: string): void {
    for (const form of jsonNameFoldKeys(key)) {
      const keys = this.#byForm.get(form)
      if (keys === undefined) this.#byForm.set(form, [key])
      else keys.push(key)
    }
  }

  /** Removes every key but `keep` (`name` itself unless told; null: none) that a binder may read as `name`, subtrees and all. */
  removeShadows(name: string, keep: string | null = name): void {
    for (const form of jsonNameFoldKeys(name)) {
      for (const other of this.#byForm.get(form) ?? []) if (other !== keep) delete this.node[other]
    }
  }

  /** Sets `key` as an own property and indexes it. */
  set(key: string, value: unknown): void {
    if (!Object.hasOwn(this.node, key)) this.#add(key)
    setOwn(this.node, key, value)
  }
}

/**
 * Sets `path` (dotted) in a JSON object, creating objects on the way. At every level the caller's
 * keys that a binder ignoring case reads as the path's key go, subtrees and all (beside the
 * gateway's `auth.acct`, `{"Auth":{…}}` would be a second object the backend merges or prefers),
 * and so do keys spelling the rest of the path with its dots (`"auth.acct"` at the top).
 */
function setDotted(indexOf: (node: Record<string, unknown>) => FoldIndex, target: Record<string, unknown>, path: string, value: string): void {
  const parts = path.split('.')
  let node = target
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const index = indexOf(node)
    index.removeShadows(part)
    if (i < parts.length - 1) index.removeShadows(parts.slice(i).join('.'), null)
    if (i === parts.length - 1) return index.set(part, value)
    const next = Object.hasOwn(node, part) ? node[part] : undefined
    if (next === undefined) index.set(part, (node = {}))
    else if (next !== null && typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>
    else throw new GatewayError('unsupported_payload', `payload field "${path}": "${part}" in the JSON body is not an object`)
  }
}

/** The JSON body with every field set (see the file comment); refusals name the fields. */
export function setJsonFields(raw: Buffer, fields: readonly { key: string; value: string }[]): Buffer {
  const names = fields.map((f) => f.key).join(', ')
  if (jsonNestingDepth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new GatewayError('bad_request', `payload field(s) ${names}: the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`)
  let doc: unknown
  let restore = (text: string): string => text
  try {
    if (raw.length === 0) doc = {}
    else ({ doc, restore } = parseKeepingNumbers(raw))
  } catch {
    throw new GatewayError('bad_request', `payload field(s) ${names}: the request body is not valid JSON`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new GatewayError('unsupported_payload', `payload field(s) ${names}: the JSON body must be an object`)
  const indexes = new Map<Record<string, unknown>, FoldIndex>()
  const indexOf = (node: Record<string, unknown>): FoldIndex => {
    let index = indexes.get(node)
    if (index === undefined) indexes.set(node, (index = new FoldIndex(node)))
    return index
  }
  for (const f of fields) setDotted(indexOf, doc as Record<string, unknown>, f.key, f.value)
  try {
    return Buffer.from(restore(JSON.stringify(doc)))
  } catch (e) {
    // Belt and braces behind the depth check: a stack overflow here is the body's shape, not ours.
    if (e instanceof RangeError) throw new GatewayError('bad_request', `payload field(s) ${names}: the JSON body nests too deeply to re-serialise`)
    throw e
  }
}
