/**
 * The caller's cookies beside query and payload fields: PHP's `$_REQUEST` reads them over both
 * (apply-authorization.ts).
 */
import { parameterMatcher } from './parameter-names.js'
import type { Admitted } from './pipeline.js'

/**
 * Removes the caller's cookies a backend may read as a query or payload field: PHP without a
 * php.ini (the official container images) has no request_order, so `$_REQUEST` follows
 * variables_order "EGPCS" and a cookie `acct` wins over the query's and the body's `acct`.
 * Cookie pieces are split on ";" as PHP splits them; names are judged like parameter names.
 */
export function dropCookies(ctx: Admitted, names: readonly string[]): void {
  const header = ctx.outbound.headers.cookie
  if (header === undefined) return
  const text = Array.isArray(header) ? header.join('; ') : header
  const drop = parameterMatcher(names)
  const pieces = text.split(';')
  const kept = pieces.filter((piece) => {
    const eq = piece.indexOf('=')
    return !drop((eq === -1 ? piece : piece.slice(0, eq)).trim())
  })
  if (kept.length === pieces.length) return
  // A filtered copy, not a delete (a delete makes the headers object a slow dictionary).
  const { cookie: _dropped, ...rest } = ctx.outbound.headers
  const left = kept.map((p) => p.trim()).filter((p) => p !== '').join('; ')
  ctx.outbound.headers = left === '' ? rest : Object.assign(rest, { cookie: left })
}
