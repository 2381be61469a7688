/**
 * JSON text of parsed JSON that JSON.parse reads back as the very same value. JSON.stringify is
 * lossy for two kinds of number JSON.parse makes: `-0` it writes as `0`, and a number beyond a
 * double (`1e400`, Infinity once parsed) as `null`. A bearer record written with it held other
 * claims than its assertion: a field naming such a claim was refused on the JWT used directly
 * and filled ("0") or called null after the exchange. Here they are written as `-0` and
 * `1e400` / `-1e400`, which parse back to -0 and ±Infinity (earlier versions read them so too).
 */

interface RawJson {
  readonly rawJSON: string
}
// JSON.rawJSON (Node 21+; not yet in TypeScript's lib): JSON.stringify writes its text as it is.
const json = JSON as unknown as { rawJSON(text: string): RawJson }

const NEGATIVE_ZERO = json.rawJSON('-0')
const POSITIVE_INFINITY = json.rawJSON('1e400')
const NEGATIVE_INFINITY = json.rawJSON('-1e400')

/** The replacer: the numbers JSON.stringify would change, as text that parses back to them. */
function exactNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value
  if (Object.is(value, -0)) return NEGATIVE_ZERO
  if (value === Infinity) return POSITIVE_INFINITY
  return value === -Infinity ? NEGATIVE_INFINITY : value
}

/** JSON.stringify(value), but every number reads back as itself (-0 and ±Infinity included). */
export function exactJson(value: unknown): string {
  return JSON.stringify(value, exactNumber)
}
