/**
 * A token URL's reply (RFC 5849 §2.1, §2.3) as read and as taken: read whole up to a cap, and
 * its token pair taken only as the provider sent it (once, UTF-8, not cut short).
 */
import { isUtf8 } from 'node:buffer'
import type { Dispatcher } from 'undici'
import { GatewayError } from '../errors.js'
import type { Profile } from '../gateway/index.js'
import { formDecode, formDecodeStrict } from '../oauth1/index.js'

/** The provider's answer, as received (the body capped at MAX_REPLY bytes). */
export interface ProviderReply {
  readonly method: 'POST'
  readonly url: string
  readonly endpoint: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** As UTF-8, an invalid byte shown as U+FFFD; at most MAX_REPLY bytes of it. */
  readonly body: string
  /** False when the body went on past MAX_REPLY bytes (`body` is its start). */
  readonly whole: boolean
  /** False when the body's bytes are not UTF-8 (`body` is not what was sent). */
  readonly utf8: boolean
}

/** A token pair the provider issued. */
export interface IssuedToken {
  token: string
  secret: string
}

// Token replies are a few hundred bytes; a provider's error page is shown, not stored.
const MAX_REPLY = 64 * 1024
/** The parameters of a token reply the gateway reads: each at most once, each UTF-8. */
const TOKEN_REPLY_PARAMS = ['oauth_token', 'oauth_token_secret', 'oauth_callback_confirmed'] as const
/**
 * Most UTF-8 bytes a token or its secret may have. Real providers issue tens of bytes; a request
 * token rides in the authorize and callback URLs (one of ~16 KiB fails the callback with 431) and an
 * access token in every signed request's header, so a longer one is refused, not stored.
 */
export const MAX_TOKEN_BYTES = 4096

/** The reply's form parameters the gateway reads; a reply cut at the cap, repeating one, or not UTF-8 is refused. */
function tokenReplyParams(where: string, reply: ProviderReply): Map<string, string> {
  const refuse = (what: string): GatewayError => new GatewayError('oauth_provider_failed', `${where} got HTTP ${reply.status} ${what}`)
  if (!reply.whole) throw refuse(`with a reply of more than ${MAX_REPLY / 1024} KiB: a token reply is a short form, and one cut short would hand out a truncated token`)
  if (!reply.utf8) throw refuse('with a reply that is not UTF-8: its token could not be sent back as the provider issued it')
  const out = new Map<string, string>()
  for (const [name, raw] of parseRaw(reply.body)) {
    if (!(TOKEN_REPLY_PARAMS as readonly string[]).includes(name)) continue
    if (out.has(name)) throw refuse(`with ${name} more than once: which one the provider meant is not known`)
    const value = formDecodeStrict(raw)
    if (value === undefined) throw refuse(`with an ${name} that is not UTF-8 once percent-decoded: it could not be sent back as the provider issued it`)
    const bytes = Buffer.byteLength(value)
    if (name !== 'oauth_callback_confirmed' && bytes > MAX_TOKEN_BYTES) throw refuse(`with an ${name} of ${bytes} bytes: a token or secret may have at most ${MAX_TOKEN_BYTES}`)
    out.set(name, value)
  }
  return out
}

/** How much of an over-long token a failure shows: as much as of an oauth_callback_confirmed value it refuses. */
const SHOWN_OF_LONG_TOKEN = 40

/**
 * A reply's body as a failure shows it (test-auth, the console's Test, the admin API's test): a
 * token reply parameter over MAX_TOKEN_BYTES (refused for it: the message names its length) cut to
 * its first characters and its length, not shown whole (up to the 64 KiB of the reply).
 */
export function abridgeLongTokens(body: string): string {
  return body.split('&').map((part) => {
    const eq = part.indexOf('=')
    if (eq === -1 || !(TOKEN_REPLY_PARAMS as readonly string[]).includes(formDecode(part.slice(0, eq)))) return part
    const raw = part.slice(eq + 1)
    const bytes = Buffer.byteLength(formDecode(raw))
    // Whole characters (a surrogate pair is not split).
    return bytes <= MAX_TOKEN_BYTES ? part : `${part.slice(0, eq + 1)}${Array.from(raw.slice(0, 2 * SHOWN_OF_LONG_TOKEN)).slice(0, SHOWN_OF_LONG_TOKEN).join('')}…[${bytes} bytes, abridged]`
  }).join('&')
}

/** The decoded names and still-encoded values of a form (parseForm's split, the values left for formDecodeStrict). */
function parseRaw(body: string): [string, string][] {
  return body.split('&').filter((part) => part !== '').map((part) => {
    const eq = part.indexOf('=')
    return eq === -1 ? [formDecode(part), ''] : [formDecode(part.slice(0, eq)), part.slice(eq + 1)]
  })
}

/** The token pair of a 2xx form reply; anything else is `oauth_provider_failed` naming the status. */
export function parseTokenReply(profile: Profile, step: string, reply: ProviderReply): IssuedToken {
  const where = `profile "${profile.name}": the ${step} request to ${reply.url}`
  if (reply.status < 200 || reply.status > 299) throw new GatewayError('oauth_provider_failed', `${where} was refused with HTTP ${reply.status}`)
  const f = tokenReplyParams(where, reply)
  const token = f.get('oauth_token')
  // An empty secret is taken: §2.1/§2.3 require the parameter, not a value, and signing with it is
  // well defined (the HMAC key `consumer-secret&`, PLAINTEXT's signature the same); an empty token is not.
  const secret = f.get('oauth_token_secret')
  if (!token || secret === undefined) throw new GatewayError('oauth_provider_failed', `${where} got HTTP ${reply.status} without oauth_token and oauth_token_secret`)
  // legacyOAuth10: the operator's explicit opt-out for a provider that implements OAuth Core 1.0.
  if (step === 'request-token' && !profile.config.legacyOAuth10) confirmCallback(where, reply.status, f.get('oauth_callback_confirmed'))
  return { token, secret }
}

/**
 * RFC 5849 §2.1: a request-token reply MUST carry oauth_callback_confirmed=true. Its absence is how an
 * OAuth 1.0 provider (whose dance is open to session fixation: no verifier binds the callback) tells
 * itself apart from a 1.0a one, so anything else is refused before a user is sent to it.
 */
function confirmCallback(where: string, status: number, confirmed: string | undefined): void {
  if (confirmed === 'true') return
  const sent = confirmed === undefined ? 'without oauth_callback_confirmed' : `with oauth_callback_confirmed=${JSON.stringify(confirmed.slice(0, 40))}`
  const why = 'an OAuth 1.0a provider must confirm the callback with oauth_callback_confirmed=true (RFC 5849, section 2.1); this one may implement OAuth 1.0, not 1.0a, whose dance is open to session fixation'
  throw new UnconfirmedCallbackError('oauth_provider_failed', `${where} got HTTP ${status} ${sent}: ${why}`)
}

/** A request-token reply refused for lacking oauth_callback_confirmed=true (the profile test adds the operator's way out). */
export class UnconfirmedCallbackError extends GatewayError {}

/** The access token of `reply`; a 4xx that refuses the user's approval is `oauth_authorization_refused`, naming only the status. */
export function parseAccessTokenReply(profile: Profile, reply: ProviderReply): IssuedToken {
  if (refusesAuthorization(reply.status)) {
    const why = `its access-token request answered HTTP ${reply.status}`
    throw new GatewayError('oauth_authorization_refused', `profile "${profile.name}": the access-token request to ${reply.url} was refused with HTTP ${reply.status}: the user's approval (verifier or request token) is not valid, expired or already used`, { callerMessage: why })
  }
  return parseTokenReply(profile, 'access-token', reply)
}

/**
 * True when a provider's status at the access-token step refuses the user's approval rather than
 * the gateway: a 4xx, the request-token step having just proved the consumer's credentials. Not
 * 408 (the provider gave up waiting on the gateway) nor 429 (it throttles the gateway's consumer):
 * those, 5xx and anything unexpected stay `oauth_provider_failed`, which an operator must see.
 */
export function refusesAuthorization(status: number): boolean {
  return status >= 400 && status <= 499 && status !== 408 && status !== 429
}

export function flatten(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

export async function readCapped(body: Dispatcher.ResponseData['body']): Promise<Pick<ProviderReply, 'body' | 'whole' | 'utf8'>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const b = chunk as Buffer
    chunks.push(b.subarray(0, Math.max(0, MAX_REPLY - size)))
    size += b.length
    if (size > MAX_REPLY) {
      body.destroy()
      break
    }
  }
  const bytes = Buffer.concat(chunks)
  return { body: bytes.toString('utf8'), whole: size <= MAX_REPLY, utf8: isUtf8(bytes) }
}
