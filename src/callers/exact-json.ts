/**
 * JSON text of parsed JSON that JSON.parse reads back as the very same value. JSON.stringify is
 * lossy for two kinds of number JSON.parse makes: `-0` it writes as `0`, and a number beyond a
 * double (`1e400`, Infinity once parsed) as `null`. A bearer record written with it held other
 * claims than its assertion: a field naming such a claim was refused on the JWT used directly
 * and filled ("0") or called null after the exchange. Here they are written as `-0` and
 * `1e400` / `-1e400`, which parse back to -0 and ±Infinity (earlier versions read them so too).
 */
import { randomBytes } from 'node:crypto'

interface RawJson {
  readonly rawJSON: string
}
// JSON.rawJSON (Node 21+; not yet in TypeScript's lib): JSON.stringify writes its text as it is.
const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => RawJson }).rawJSON

/** The texts the numbers JSON.stringify would change are written as. */
const EXACT_TEXTS = ['-0', '1e400', '-1e400']

/**
 * Without JSON.rawJSON (Node 20, which the bench and the demo's own process may run on): such a
 * number is written as a string no claim holds (a random per-process marker) and the quoted
 * marker then replaced by its text.
 */
const MARKER = rawJSON ? '' : `exact-json-${randomBytes(16).toString('hex')}:`
const stand = (text: string): unknown => (rawJSON ? rawJSON(text) : `${MARKER}${text}`)
const NEGATIVE_ZERO = stand('-0')
const POSITIVE_INFINITY = stand('1e400')
const NEGATIVE_INFINITY = stand('-1e400')

/** The replacer: the numbers JSON.stringify would change, as text that parses back to them. */
function exactNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value
  if (Object.is(value, -0)) return NEGATIVE_ZERO
  if (value === Infinity) return POSITIVE_INFINITY
  return value === -Infinity ? NEGATIVE_INFINITY : value
}

/** JSON.stringify(value), but every number reads back as itself (-0 and ±Infinity included). */
export function exactJson(value: unknown): string {
  const text = JSON.stringify(value, exactNumber)
  if (rawJSON || !text.includes(MARKER)) return text
  let out = text
  for (const exact of EXACT_TEXTS) out = out.replaceAll(JSON.stringify(`${MARKER}${exact}`), exact)
  return out
}
