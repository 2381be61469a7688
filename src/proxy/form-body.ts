/**
 * Whether a request's body is form parameters, as the steps that remove, add or sign them
 * must judge it: yes, no, or refused when backends would disagree (a Content-Type that names
 * the form type but not plainly). Judged the strict way while some backend reads a form, a
 * caller's parameters there would stay beside the gateway's and override them.
 */
import { GatewayError } from '../errors.js'
import { isAmbiguousFormContentType, isFormContentType } from '../oauth1/index.js'
import type { Admitted } from './pipeline.js'

/** The outbound Content-Type (the first, when repeated). */
export function contentTypeOf(ctx: Admitted): string | undefined {
  const ct = ctx.outbound.headers['content-type']
  return Array.isArray(ct) ? ct[0] : ct
}

/** True for a form body; throws `unsupported_payload` for an ambiguous one; `why` names what reads it. */
export function isFormBody(ctx: Admitted, contentType: string | undefined, why: string): boolean {
  if (isFormContentType(contentType)) return true
  if (!isAmbiguousFormContentType(contentType)) return false
  const shown = (contentType as string).length > 80 ? `${(contentType as string).slice(0, 80)}…` : contentType
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" ${why}, and Content-Type ${JSON.stringify(shown)} is read as a form by some backends and not by others: send "application/x-www-form-urlencoded" (parameters after ";") or another media type`)
}
