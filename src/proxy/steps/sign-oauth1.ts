/**
 * sign_oauth1: the last prepare step, so the signature covers every field already
 * injected. Reads the body only when the signature needs it (form parameters, body
 * hash, body placement). The gateway alone sets OAuth protocol parameters: a request that
 * carries its own (`oauth_token`, `oauth_callback`… in the query, a form body or an
 * `Authorization: OAuth` header) is refused, so a caller cannot have them signed and sent. A query
 * or form body is sent as the caller's bytes, but for raw ASCII characters RFC 3986 does not allow
 * unencoded (`ids[]=1` goes as `ids%5B%5D=1`: every parser reads the same parameters, and
 * python-oauthlib reads the text at all); one whose octets verifiers would read differently is refused.
 * A form's media type goes in lower case (canonicalFormContentType).
 */
import { GatewayError } from '../../errors.js'
import { canonicalFormContentType, encodeRawCharacters, isSentAsIs, percentEncode, unverifiableOctets, type SignableUrl } from '../../oauth1/index.js'
import { contentTypeOf, isFormBody } from '../form-body.js'
import { setGatewayHeader } from '../gateway-headers.js'
import { findParameters, readsWithPrefix } from '../parameter-names.js'
import type { Admitted, Step } from '../pipeline.js'
import { outboundUrlToSign } from '../outbound-request.js'

export type OnSignature = (profile: string, method: string) => void

// RFC 5849 §3.1 reserves the prefix; "oauth_" in any spelling a backend parser reads as it.
const isOAuthName = (rawName: string): boolean => readsWithPrefix(rawName, 'oauth_')
const OAUTH_SCHEME = /^\s*OAuth(\s|$)/i
const MAX_SHOWN_NAME = 40

export function createSignOAuth1(onSignature?: OnSignature): Step {
  return {
    name: 'sign_oauth1',
    // Synchronous unless the body must be read: no promise or microtask turn on the common path.
    run(ctx: Admitted) {
      const profile = ctx.endpoint.profile
      if (!profile) return
      const p = profile.config
      const { outbound } = ctx
      refuseCallerProtocolParameters(ctx, p.placement)
      const form = isFormBody(ctx, contentTypeOf(ctx), 'is signed with OAuth 1.0a, whose signature covers form parameters')
      const contentType = form ? sendFormContentType(ctx) : contentTypeOf(ctx)
      const needsBody = form || p.placement === 'body' || (p.bodyHash && outbound.body.present)
      if (needsBody) {
        return outbound.body.bytes().then((body) => {
          // A caller's oauth_* is named first: the refusal that says what the caller tried.
          if (form) refuseCallerFormParameters(ctx, body)
          const url = sendQueryEncoded(ctx)
          sign(ctx, profile, url, contentType, form ? sendFormEncoded(ctx, body, contentType) : body, onSignature)
        })
      }
      sign(ctx, profile, sendQueryEncoded(ctx), contentType, undefined, onSignature)
    },
  }
}

function refusal(ctx: Admitted, what: string): GatewayError {
  return new GatewayError('bad_request', `endpoint "${ctx.endpoint.name}" is signed by the gateway with OAuth 1.0a, which sets every OAuth protocol parameter: the request may not carry its own (${what})`)
}

function shownName(rawName: string): string {
  return JSON.stringify(rawName.length > MAX_SHOWN_NAME ? `${rawName.slice(0, MAX_SHOWN_NAME)}…` : rawName)
}

/** The caller's query (as sent, before query fields) and, unless the gateway puts its own there, its Authorization header. */
function refuseCallerProtocolParameters(ctx: Admitted, placement: string): void {
  const query = ctx.target.query
  if (query.length > 1) {
    const found = findParameters(query.slice(1), isOAuthName)
    if (found.length > 0) throw refusal(ctx, `query parameter ${shownName(found[0] as string)}`)
  }
  // Header placement replaces the header; with query or body placement a caller's would travel beside the gateway's parameters.
  const authorization = ctx.outbound.headers.authorization
  if (placement !== 'header' && authorization !== undefined && [authorization].flat().some((v) => OAUTH_SCHEME.test(v))) {
    throw refusal(ctx, 'an "Authorization: OAuth …" header')
  }
}

/** Form-body parameters, apart from the endpoint's own payload fields (a caller's of the same name is already gone). */
function refuseCallerFormParameters(ctx: Admitted, body: Buffer): void {
  const own = new Set(ctx.endpoint.fields.filter((f) => f.type === 'payload').map((f) => percentEncode(f.key)))
  const found = findParameters(body.toString('utf8'), (name) => !own.has(name) && isOAuthName(name))
  if (found.length > 0) throw refusal(ctx, `form-body parameter ${shownName(found[0] as string)}`)
}

/**
 * A signed query or form body must read as the same parameters to every verifier, or no
 * signature verifies everywhere (oauth1's unverifiableOctets says which octets do not). Refused
 * before signing, rather than signed one way and sent.
 */
function refuseUnverifiable(ctx: Admitted, where: 'query' | 'form body', text: Buffer, contentType?: string): void {
  const found = unverifiableOctets(text, contentType)
  if (found === undefined) return
  const covers = where === 'query' ? 'query parameters' : 'form parameters'
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" is signed with OAuth 1.0a, whose signature covers ${covers}, and the ${where} has ${found.what}, so no signature would verify everywhere: ${found.fix}`)
}

/**
 * The query as the signer reads it (the caller's, with any query fields: the URL's, percent-encoded
 * where a parser encodes), refused or sent with its raw characters encoded (encodeRawCharacters).
 * Only the search changes: the URL parsed from the same target keeps its origin and path.
 * Returns the URL (or its parts) to sign, as outboundUrlToSign gives it after that.
 */
function sendQueryEncoded(ctx: Admitted): URL | SignableUrl {
  const url = outboundUrlToSign(ctx.outbound)
  const search = url.search
  if (search.length <= 1 || isSentAsIs(search)) return url
  const text = Buffer.from(search.slice(1), 'latin1')
  refuseUnverifiable(ctx, 'query', text)
  const encoded = encodeRawCharacters(text)
  if (encoded === text) return url
  ctx.outbound.url.search = `?${encoded.toString('latin1')}`
  return outboundUrlToSign(ctx.outbound)
}

/** A form's Content-Type as every verifier recognises it (canonicalFormContentType), sent so when the caller wrote it otherwise. */
function sendFormContentType(ctx: Admitted): string {
  const contentType = contentTypeOf(ctx) as string
  const canonical = canonicalFormContentType(contentType)
  if (canonical !== contentType) setGatewayHeader(ctx.outbound, 'content-type', canonical)
  return canonical
}

/** The form body, refused or sent (and signed) with its raw characters encoded; the forward step sends the new body's length. */
function sendFormEncoded(ctx: Admitted, body: Buffer, contentType: string | undefined): Buffer {
  refuseUnverifiable(ctx, 'form body', body, contentType)
  const encoded = encodeRawCharacters(body)
  if (encoded !== body) ctx.outbound.body.replace(encoded)
  return encoded
}

function sign(ctx: Admitted, profile: NonNullable<Admitted['endpoint']['profile']>, url: URL | SignableUrl, contentType: string | undefined, body: Buffer | undefined, onSignature: OnSignature | undefined): void {
  const p = profile.config
  const { outbound } = ctx
  const token = ctx.auth.token
  // The profile's signer holds what every request shares (consumer, method, realm, placement). What is
  // sent alone: a static token's signature then makes no protocol parameter object (docs/performance.md, session 52).
  const signed = profile.signer.signToSend({
    method: outbound.method,
    // The URL object itself, or its parts while no step parsed it: the signer copies it only when it must change it.
    url,
    contentType,
    body,
    token: token?.token,
    tokenSecret: token?.tokenSecret,
  })
  if (signed.authorizationHeader) setGatewayHeader(outbound, 'authorization', signed.authorizationHeader)
  // The signer's own copy of the URL, protocol parameters added: parsing signed.url again would build the same object.
  if (signed.queryUrl) outbound.url = signed.queryUrl
  if (signed.body !== undefined) outbound.body.replace(Buffer.from(signed.body))
  onSignature?.(profile.name, p.signatureMethod)
}
