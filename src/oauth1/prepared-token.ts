/**
 * The signer's common request (no callback, verifier, extension parameters, body hash or form
 * body) with its protocol parameters prepared once per token: their encodings, their §3.4.1.3.2
 * order (the names are distinct and fixed, so the order is too) and their text in the base string
 * and in the Authorization header or form pairs. A request then adds its timestamp and nonce and merges
 * its query's parameters in: the same strings the general path (sign.ts) builds pair by pair.
 */
import { parameterOrder } from './base-string.js'
import { authorizationHeader, formPairs } from './placement.js'

/** The protocol parameters of one token, signature excluded, in transmission order. */
export interface PreparedToken {
  readonly token: string | undefined
  /** The decoded parameters in transmission order (oauthParams' first keys); the timestamp's and nonce's values are each request's. */
  readonly decoded: Readonly<Record<string, string>>
  /** Encoded names and values; the timestamp's and nonce's values are each request's. */
  readonly names: readonly string[]
  readonly values: readonly string[]
  /** Positions in §3.4.1.3.2 order. */
  readonly sorted: readonly number[]
  /** Per position, `name%3Dvalue` as the base string holds it; `name%3D` for the timestamp and nonce. */
  readonly fragments: readonly string[]
  /** The normalized parameters without a query: the text around the timestamp's and nonce's values, in §3.4.1.3.2 order. */
  readonly alone: readonly [string, string, string]
  /** Whether the timestamp comes before the nonce in that order. */
  readonly timestampFirst: boolean
  readonly timestampAt: number
  /** The Authorization header up to the timestamp's value, between it and the nonce's, and after that up to the signature's. */
  readonly headerHead: string
  readonly headerTail: string
  /** The same for the form pairs of query and body placement (formPairs). */
  readonly formHead: string
  readonly formTail: string
}

const TIMESTAMP = 'oauth_timestamp'
const NONCE = 'oauth_nonce'
// The base string encodes the encoded pairs once more: only `%` of them changes (base-string.ts).
const again = (s: string): string => (s.includes('%') ? s.replaceAll('%', '%25') : s)

/**
 * `decoded`, `names` and `values` as addProtocolParameters and encodeProtocolParameters make them
 * (decoded, then encoded), with the timestamp and nonce directly one after the other; `quotedRealm`
 * as the signer keeps it.
 */
export function prepareToken(token: string | undefined, decoded: Readonly<Record<string, string>>, names: readonly string[], values: readonly string[], quotedRealm: string | undefined): PreparedToken {
  const timestampAt = names.indexOf(TIMESTAMP)
  if (timestampAt < 1 || names[timestampAt + 1] !== NONCE) throw new TypeError('prepareToken: the timestamp must follow the consumer key and precede the nonce')
  const dynamic = (k: number): boolean => k === timestampAt || k === timestampAt + 1
  const fragments = names.map((n, k) => `${n}%3D${dynamic(k) ? '' : again(values[k] as string)}`)
  const sorted = parameterOrder(names, values)
  // What preparedParameters joins for an empty query, cut where the two values go.
  const alone: string[] = ['']
  for (const [i, k] of sorted.entries()) {
    alone[alone.length - 1] += `${i === 0 ? '' : '%26'}${fragments[k] as string}`
    if (dynamic(k)) alone.push('')
  }
  const after = authorizationHeader('', names.slice(timestampAt + 2), values.slice(timestampAt + 2)).slice('OAuth '.length)
  const formAfter = formPairs(names.slice(timestampAt + 2), values.slice(timestampAt + 2))
  return {
    token,
    decoded,
    names,
    values,
    sorted,
    fragments,
    alone: alone as [string, string, string],
    timestampFirst: sorted.indexOf(timestampAt) < sorted.indexOf(timestampAt + 1),
    timestampAt,
    headerHead: `${authorizationHeader(quotedRealm, names.slice(0, timestampAt), values.slice(0, timestampAt))}, ${TIMESTAMP}="`,
    headerTail: `"${after}, oauth_signature="`,
    formHead: `${formPairs(names.slice(0, timestampAt), values.slice(0, timestampAt))}&${TIMESTAMP}=`,
    formTail: `${formAfter === '' ? '' : `&${formAfter}`}&oauth_signature=`,
  }
}

/** The Authorization header of one request. */
export function preparedHeader(t: PreparedToken, timestamp: string, nonce: string, signature: string): string {
  return `${t.headerHead}${timestamp}", ${NONCE}="${nonce}${t.headerTail}${signature}"`
}

/** The form pairs of one request (formPairs), for query and body placement. */
export function preparedForm(t: PreparedToken, timestamp: string, nonce: string, signature: string): string {
  return `${t.formHead}${timestamp}&${NONCE}=${nonce}${t.formTail}${signature}`
}

/** The decoded protocol parameters of one request (SignResult's oauthParams): the prepared ones in their order, this request's values in place. */
export function preparedOAuthParams(t: PreparedToken, timestamp: string, nonce: string, signature: string): Readonly<Record<string, string>> {
  const p: Record<string, string> = Object.assign({}, t.decoded)
  p.oauth_timestamp = timestamp
  p.oauth_nonce = nonce
  p.oauth_signature = signature
  return Object.freeze(p)
}

/**
 * The base string's normalized parameters (encoded once more) of the prepared protocol parameters
 * with this request's timestamp and nonce (encoded) and the query's encoded pairs: a merge of two
 * ordered lists, the query's pair first where both are equal, as the stable sort of the general path.
 */
export function preparedParameters(t: PreparedToken, timestamp: string, nonce: string, names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) {
    const [before, between, after] = t.alone
    return `${before}${again(t.timestampFirst ? timestamp : nonce)}${between}${again(t.timestampFirst ? nonce : timestamp)}${after}`
  }
  const order = parameterOrder(names, values)
  let out = ''
  let q = 0
  for (const k of t.sorted) {
    const name = t.names[k] as string
    const own = k === t.timestampAt ? timestamp : k === t.timestampAt + 1 ? nonce : undefined
    const value = own ?? (t.values[k] as string)
    for (; q < order.length; q++) {
      const i = order[q] as number
      const other = names[i] as string
      const otherValue = values[i] as string
      if (!(other < name || (other === name && otherValue <= value))) break
      out += `${out === '' ? '' : '%26'}${again(other)}%3D${again(otherValue)}`
    }
    const fragment = t.fragments[k] as string
    out += `${out === '' ? '' : '%26'}${own === undefined ? fragment : fragment + again(own)}`
  }
  for (; q < order.length; q++) {
    const i = order[q] as number
    out += `%26${again(names[i] as string)}%3D${again(values[i] as string)}`
  }
  return out
}
