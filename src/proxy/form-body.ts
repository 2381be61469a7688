/**
 * Whether a request's body is form parameters, as the steps that remove, add or sign them
 * must judge it: yes, no, or refused when backends would disagree (a Content-Type that names
 * the form type but not plainly). Judged the strict way while some backend reads a form, a
 * caller's parameters there would stay beside the gateway's and override them.
 */
import { GatewayError } from '../errors.js'
import { isAmbiguousFormContentType, isFormContentType } from '../oauth1/index.js'
import type { Admitted } from './pipeline.js'

/** A Content-Type without a media type before its parameters (`""`, `;charset=utf-8`): Rack's nil type. */
const NO_MEDIA_TYPE = /^\s*(?:[;,]|$)/

/** The outbound Content-Type (the first, when repeated). */
export function contentTypeOf(ctx: Admitted): string | undefined {
  const ct = ctx.outbound.headers['content-type']
  return Array.isArray(ct) ? ct[0] : ct
}

/**
 * True for a form body; throws `unsupported_payload` for an ambiguous one; `why` names what
 * reads it. A request without a body has no parameters there. A body without a Content-Type
 * (or an empty one) is ambiguous too: Rack reads a POST's as a form, and merges it over the
 * query; Python's cgi.FieldStorage reads one; oauthlib and strict parsers do not.
 */
export function isFormBody(ctx: Admitted, contentType: string | undefined, why: string): boolean {
  // `present`, not `stream`: asking for the stream sends 100 Continue before a refusal.
  if (!ctx.outbound.body.present) return false
  if (isFormContentType(contentType)) return true
  if (contentType === undefined || NO_MEDIA_TYPE.test(contentType)) {
    throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and the request has a body without a Content-Type, which some backends read as a form and others do not: send its media type`)
  }
  if (!isAmbiguousFormContentType(contentType)) return false
  const shown = contentType.length > 80 ? `${contentType.slice(0, 80)}…` : contentType
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and Content-Type ${JSON.stringify(shown)} is read as a form by some backends and not by others: send "application/x-www-form-urlencoded" (parameters after ";") or another media type`)
}
