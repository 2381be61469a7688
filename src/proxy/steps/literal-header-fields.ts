/**
 * apply_authorization's common case: an endpoint whose fields are all header fields of fixed text
 * (no placeholder). Their values are the same on every request, so they are judged once per fields
 * list (a reload compiles new lists) and set as they are, with nothing rendered per request.
 */
import { headerValueProblem } from '../../config/index.js'
import type { CompiledField } from '../../gateway/index.js'
import { setGatewayHeader } from '../gateway-headers.js'
import type { Admitted } from '../pipeline.js'

type LiteralHeaders = readonly { readonly key: string; readonly value: string }[]

/** Per fields list: its headers, or null when a field is not a header of fixed text every backend reads as sent. */
const literalHeaderLists = new WeakMap<readonly CompiledField[], LiteralHeaders | null>()

function literalHeaders(fields: readonly CompiledField[]): LiteralHeaders | null {
  let headers = literalHeaderLists.get(fields)
  if (headers === undefined) {
    // A value renderFields would refuse takes the general way, which refuses it on every request.
    const literal = fields.every((f) => f.type === 'header' && f.template.literal && headerValueProblem(f.template.source) === undefined)
    headers = literal ? fields.map((f) => ({ key: f.key, value: f.template.source })) : null
    literalHeaderLists.set(fields, headers)
  }
  return headers
}

/** Whether the endpoint's fields are done with: none, or fixed header text, now set (as renderFields and the step would set them). */
export function setLiteralHeaders(ctx: Admitted): boolean {
  const fields = ctx.endpoint.fields
  if (fields.length === 0) return true
  const headers = literalHeaders(fields)
  if (headers === null) return false
  for (const f of headers) setGatewayHeader(ctx.outbound, f.key, f.value)
  return true
}
