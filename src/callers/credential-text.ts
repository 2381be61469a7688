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

/** `presented` as carriesCredential looks for them: the ones of MIN_TOKEN_LENGTH or more, lower-cased, shortest first. */
export function credentialsToLookFor(presented: readonly string[]): OwnCredentials {
  const found = presented.filter((t) => t.length >= MIN_TOKEN_LENGTH).map((t) => t.toLowerCase())
  return found.sort((a, b) => a.length - b.length) as readonly string[] as OwnCredentials
}

export const NO_CREDENTIALS = credentialsToLookFor([])

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
 * Whether a URL (or a part of one) holds a credential (a gateway bearer or one of `own`) as written or
 * percent-decoded once; and when it holds an escape encoded more than once (`%25…`), with every such
 * escape brought back to one level, as written and decoded: `%252F<bearer>` (a value `%2F<bearer>` the gateway encoded) decodes once
 * to `%2F<bearer>`, the bearer glued to the "F", and to `/<bearer>` for a reader that decodes twice.
 */
export function urlCarriesCredential(url: string, own: OwnCredentials): boolean {
  if (carriesCredential(url, own)) return true
  if (!url.includes('%')) return false
  if (carriesCredential(percentDecoded(url), own)) return true
  if (!url.includes('%25')) return false
  const oneLevel = url.replace(ENCODED_PERCENT, '%')
  return carriesCredential(oneLevel, own) || carriesCredential(percentDecoded(oneLevel), own)
}

/** A URL the gateway is about to call (or send a browser to): `href` whole as it will be sent, and the origin it has. */
export interface OutboundUrl {
  readonly origin: string
  readonly href: string
}

/**
 * The one check of every URL the gateway makes a request to from what a caller chose (the tenant,
 * the user, fields): it must have `configuredOrigin` (the config's, the tenant alone placed in it; a
 * failure is a bug, so an internal error), and hold no credential (`whose`: what filled it, for
 * the 400 credential_in_target). Judged before anything is dialled or looked up in DNS.
 */
export function judgeOutboundUrl(url: OutboundUrl, configuredOrigin: string, own: OwnCredentials, whose: string): void {
  if (url.origin !== configuredOrigin) throw new GatewayError('internal', 'internal error', { cause: new Error(`destination ${url.origin} is not the configured origin ${configuredOrigin}`) })
  if (urlCarriesCredential(url.href, own)) {
    throw new GatewayError('credential_in_target', `${whose} holds a gateway credential, placed there from the request (the tenant, the user, a field): nothing was sent; send the credential in Proxy-Authorization (route mode: Authorization) only, never where it reaches a URL`)
  }
}
