/**
 * Where a gateway credential is looked for in text the gateway would send on: a header, a request
 * target, and the URL of a request it makes (a proxied request's, and the OAuth 1.0a dance's token and
 * authorize URLs). Two kinds: any bearer this release issued, known by its spelling in any letter
 * case (bearer-shape.ts), and the credentials the request itself presents (a caller JWT used as the
 * bearer, an earlier release's untagged bearer), looked for in any letter case too: a lower-cased or
 * upper-cased copy (a header name, a tenant, a host) gives most of the token away, and whoever has
 * it can try the few case spellings it could have had.
 */
import { GatewayError } from '../errors.js'
import { carriesGatewayBearer } from './bearer-shape.js'

// Shorter strings could be ordinary header content; gateway bearers and JWTs are far longer.
export const MIN_TOKEN_LENGTH = 16

/** A request's own credentials, lower-cased, long enough to look for and shortest first: only credentialsToLookFor makes one. */
export type OwnCredentials = readonly string[] & { readonly __lowerCased: true }

/** No credentials to look for (read only, as every OwnCredentials is). */
export const NO_CREDENTIALS = [] as readonly string[] as OwnCredentials

/** `presented` as carriesCredential looks for them: the ones of MIN_TOKEN_LENGTH or more, lower-cased, shortest first. */
export function credentialsToLookFor(presented: readonly string[]): OwnCredentials {
  // Most requests present none (a caller known by its certificate): one shared empty list, no copies.
  if (presented.length === 0) return NO_CREDENTIALS
  const found = presented.filter((t) => t.length >= MIN_TOKEN_LENGTH).map((t) => t.toLowerCase())
  return found.sort((a, b) => a.length - b.length) as readonly string[] as OwnCredentials
}

/**
 * Whether `text` holds one of the request's own credentials or any gateway bearer, in any letter
 * case (ASCII: the credentials are; a non-ASCII letter lower-cased to ASCII, like the Kelvin sign,
 * only finds more).
 */
export function carriesCredential(text: string, own: OwnCredentials): boolean {
  // A text shorter than the shortest (the first) cannot hold one: no lower-cased copy of it (most header names and values).
  if (own.length > 0 && text.length >= (own[0] as string).length) {
    const lower = text.toLowerCase()
    for (const t of own) if (lower.includes(t)) return true
  }
  return carriesGatewayBearer(text)
}

/** One level of percent-decoding, bytes as Latin-1: an escape of a non-ASCII byte stays a delimiter. */
export function percentDecoded(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

// `%` encoded once or more (`%25`, `%2525`): read back as the one `%` it was.
const ENCODED_PERCENT = /%(?:25)+/g

/**
 * Whether a URL (or a part of one) holds a credential (a gateway bearer or one of `own`) in a reading
 * a reader could make of it: as written, percent-decoded once, and decoded twice. Each reading is the
 * whole text such a reader sees, so any credential text, `%` in it or not, is found wherever a reader
 * decoding that many times would read it (a credential holding `%25`, encoded twice, is `%252525`:
 * only the second decoding gives it back). When the URL holds an escape encoded more than once
 * (`%25…`), also with every such escape brought back to one level, as written and decoded: a value
 * whose characters are encoded once, twice or more in any mix reads back whole there (`%252F<bearer>`,
 * a value `%2F<bearer>` the gateway encoded, decodes once to `%2F<bearer>`, the bearer glued to the
 * "F", and to `/<bearer>` at one level and decoded). A reading equal to one already judged is not
 * judged again: at most five scans (three when every escape is encoded twice, two when once).
 */
export function urlCarriesCredential(url: string, own: OwnCredentials): boolean {
  if (carriesCredential(url, own)) return true
  if (!url.includes('%')) return false
  const once = percentDecoded(url)
  if (carriesCredential(once, own)) return true
  // Only a `%` left by the first decoding (`%25`, or one no escape took) can start an escape for the second.
  const twice = once.includes('%') ? percentDecoded(once) : once
  if (twice !== once && carriesCredential(twice, own)) return true
  if (!url.includes('%25')) return false
  const oneLevel = url.replace(ENCODED_PERCENT, '%')
  if (oneLevel !== once && oneLevel !== twice && carriesCredential(oneLevel, own)) return true
  const oneLevelDecoded = percentDecoded(oneLevel)
  return oneLevelDecoded !== once && oneLevelDecoded !== twice && oneLevelDecoded !== oneLevel && carriesCredential(oneLevelDecoded, own)
}

/** A URL the gateway is about to call (or send a browser to): `href` whole as it will be sent, and the origin it has. */
export interface OutboundUrl {
  readonly origin: string
  readonly href: string
}

/** A request target's path (from its "/") and query (from its "?", or empty), each found by urlCarriesCredential to hold no credential. */
export interface JudgedTarget {
  readonly path: string
  readonly query: string
}

/**
 * Whether `url` needs only its origin judged: its text is exactly the origin, then `judged`'s path
 * and query. Every reading urlCarriesCredential makes of the whole is then the same reading of the
 * three texts joined at a "/" and a "?": neither is a hex digit or "%", so no escape (nor `%25…`)
 * spans a join, and neither is a bearer's character, so no bearer window does. A credential found
 * only in the whole would span a join and so hold "/" or "?": none of `own` may. Else judged whole.
 */
export function originAloneToJudge(url: OutboundUrl, judged: JudgedTarget | undefined, own: OwnCredentials): boolean {
  if (judged === undefined || judged.path.charCodeAt(0) !== 0x2f || (judged.query !== '' && judged.query.charCodeAt(0) !== 0x3f)) return false
  const { href, origin } = url
  // The lengths first: an endpoint URL with a base path (`/v1`) makes them differ, and no joined copy is made and compared.
  return href.length === origin.length + judged.path.length + judged.query.length && href === origin + judged.path + judged.query && !own.some((t) => t.includes('/') || t.includes('?'))
}

/**
 * The one check of every URL the gateway makes a request to from what a caller chose (the tenant,
 * the user, fields): it must have `configuredOrigin` (the config's, the tenant alone placed in it; a
 * failure is a bug, so an internal error), and hold no credential (`whose`: what filled it, for
 * the 400 credential_in_target). Judged before anything is dialled or looked up in DNS. `judged`:
 * the request target, already judged; a URL that is its origin and that target unchanged is judged
 * by its origin alone, with the same answer (originAloneToJudge).
 */
export function judgeOutboundUrl(url: OutboundUrl, configuredOrigin: string, own: OwnCredentials, whose: string, judged?: JudgedTarget): void {
  if (url.origin !== configuredOrigin) throw new GatewayError('internal', 'internal error', { cause: new Error(`destination ${url.origin} is not the configured origin ${configuredOrigin}`) })
  if (urlCarriesCredential(originAloneToJudge(url, judged, own) ? url.origin : url.href, own)) {
    throw new GatewayError('credential_in_target', `${whose} holds a gateway credential, placed there from the request (the tenant, the user, a field): nothing was sent; send the credential in Proxy-Authorization (route mode: Authorization) only, never where it reaches a URL`)
  }
}
