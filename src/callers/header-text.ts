/**
 * Text a caller puts in a request header (X-Gateway-User, the tenant header). Node hands header
 * values over as Latin-1 strings, one character per byte; callers send UTF-8, so read as they are
 * given "josé" would be "josÃ©": another user than the dance's, the console's and an authorize
 * link's "josé". Every header read as text goes through headerText: UTF-8, or a 400.
 */
import { GatewayError } from '../errors.js'
import { utf8Text } from './utf8.js'

const ASCII = /^[\x00-\x7f]*$/
// One character per byte is all a header parser gives; anything above is no byte to decode.
const NOT_BYTES = /[^\x00-\xff]/

/** The header value `value` (as Node gives it: one character per byte) read as UTF-8; 400 naming `header` when its bytes are not UTF-8. */
export function headerText(header: string, value: string): string {
  if (ASCII.test(value)) return value
  if (NOT_BYTES.test(value)) throw new GatewayError('bad_request', `${header} holds a character that is not a byte (above U+00FF)`)
  return utf8Text(Buffer.from(value, 'latin1'), header, 'send its text UTF-8 encoded (the gateway reads header text in no other encoding)')
}

/**
 * What an earlier version took `text` (read from a header) to be: its UTF-8 bytes read as
 * Latin-1; undefined for ASCII text, which every version read alike. Stored tokens keyed under
 * that reading are moved to `text` (docs: X-Gateway-User).
 */
export function latin1Reading(text: string): string | undefined {
  return ASCII.test(text) ? undefined : Buffer.from(text, 'utf8').toString('latin1')
}

/**
 * Node keeps the first of these and drops the rest when a request repeats them (docs:
 * `message.headers`); every other header but Cookie is joined with ", ".
 */
const FIRST_KEPT = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent'])

/** A request as Node gives it: the parsed headers and the raw name/value lines they came from. */
export interface HeaderLines {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly rawHeaders: readonly string[]
}

/**
 * The one value of the single-valued request header `name` (lower case): a user, tenant, credential
 * or host. Sent twice, Node would hand over "a, b" (a user nobody named) or only the first (which
 * another hop may read as the last): the gateway guesses neither, 400 header_repeated naming `label`.
 */
export function singleHeader(request: HeaderLines, name: string, label?: string): string | undefined {
  const refusal = repeatedHeader(request, name, label)
  if (refusal) throw refusal
  const value = request.headers[name]
  return typeof value === 'object' ? value[0] : value
}

/**
 * The 400 header_repeated when the request carries `name` (lower case) more than once; else
 * undefined. The message names `label`, by default `name` in canonical case (X-Gateway-Tenant).
 */
export function repeatedHeader(request: HeaderLines, name: string, label?: string): GatewayError | undefined {
  const value = request.headers[name]
  if (value === undefined) return undefined
  // A repeat Node joined always shows its separator, ", " ("; " for Cookie), even between empty
  // values; one it dropped shows nothing. So the raw lines are counted only then: a single value
  // with the separator in it costs a scan, never a 400.
  const repeated = typeof value === 'object' ? value.length > 1 : (FIRST_KEPT.has(name) || value.includes(name === 'cookie' ? '; ' : ', ')) && linesNamed(request.rawHeaders, name) > 1
  return repeated ? new GatewayError('header_repeated', `${label ?? canonicalCase(name)} appears more than once in the request: the gateway does not guess which one counts; send it once`) : undefined
}

/** `name` (lower case) with each word capitalized, as HTTP/1.1 peers conventionally spell it: x-gateway-tenant is X-Gateway-Tenant. */
export function canonicalCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())
}

/** How many raw header lines are named `name` (lower case), in any case; nothing allocated. */
function linesNamed(raw: readonly string[], name: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) {
    if (sameName(raw[i] as string, name)) n++
  }
  return n
}

/** `raw` is `name` (lower case) in any case: only A-Z fold (a name's other characters never do). */
function sameName(raw: string, name: string): boolean {
  if (raw.length !== name.length) return false
  for (let j = 0; j < raw.length; j++) {
    const c = raw.charCodeAt(j)
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== name.charCodeAt(j)) return false
  }
  return true
}
