/**
 * sign_oauth1: the last prepare step, so the signature covers every field already
 * injected. Reads the body only when the signature needs it (form parameters, body
 * hash, body placement).
 */
import { isFormContentType } from '../../oauth1/index.js'
import type { Admitted, Step } from '../pipeline.js'

export type OnSignature = (profile: string, method: string) => void

export function createSignOAuth1(onSignature?: OnSignature): Step {
  return {
    name: 'sign_oauth1',
    // Synchronous unless the body must be read: no promise or microtask turn on the common path.
    run(ctx: Admitted) {
      const profile = ctx.endpoint.profile
      if (!profile) return
      const p = profile.config
      const { outbound } = ctx
      const ctHeader = outbound.headers['content-type']
      const contentType = Array.isArray(ctHeader) ? ctHeader[0] : ctHeader
      const form = isFormContentType(contentType)
      const needsBody = form || p.placement === 'body' || (p.bodyHash && outbound.body.stream !== undefined) || (p.bodyHash && outbound.body.buffered !== undefined)
      if (needsBody) return outbound.body.bytes().then((body) => sign(ctx, profile, contentType, body, onSignature))
      sign(ctx, profile, contentType, undefined, onSignature)
    },
  }
}

function sign(ctx: Admitted, profile: NonNullable<Admitted['endpoint']['profile']>, contentType: string | undefined, body: Buffer | undefined, onSignature: OnSignature | undefined): void {
  const p = profile.config
  const { outbound } = ctx
  const token = ctx.auth.token
  // The profile's signer holds what every request shares (consumer, method, realm, placement).
  const signed = profile.signer.sign({
    method: outbound.method,
    // The URL object itself: the signer copies it only when it must change it.
    url: outbound.url,
    contentType,
    body,
    token: token?.token,
    tokenSecret: token?.tokenSecret,
  })
  if (signed.authorizationHeader) outbound.headers.authorization = signed.authorizationHeader
  // The signer's own copy of the URL, parameters appended: parsing signed.url again would build the same object.
  if (signed.queryUrl) outbound.url = signed.queryUrl
  if (signed.body !== undefined) outbound.body.replace(Buffer.from(signed.body))
  onSignature?.(profile.name, p.signatureMethod)
}
