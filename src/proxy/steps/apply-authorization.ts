/**
 * apply_authorization: the endpoint's and profile's authorization fields, rendered from the request context and
 * injected into a header, the body (JSON or form), the query string or a `{{name}}` path placeholder. Runs before
 * signing so query and form fields are covered by the OAuth signature.
 */
import { headerValueProblem, pathSegmentProblem, renderTemplate, type TemplateScope } from '../../config/index.js'
import { GatewayError } from '../../errors.js'
import type { CompiledField } from '../../gateway/index.js'
import { percentEncode } from '../../oauth1/index.js'
import { dropCookies } from '../field-cookies.js'
import { byteNameMatcher, contentTypeOf, encodeFormFields, isFormBody, refuseForeignCharset, refuseIfEncoded } from '../form-body.js'
import { setGatewayHeader } from '../gateway-headers.js'
import { isMultipart, multipartNames, PHP_LINE_BUFFER } from '../multipart-names.js'
import { jsonPathsOfQueryName, parameterMatcher, removeParameters } from '../parameter-names.js'
import type { Admitted, Step } from '../pipeline.js'
import { checkRequestPath } from '../upstream-target.js'
import { isJson, readsAsJson, setJsonFields } from './json-payload.js'
import { setLiteralHeaders } from './literal-header-fields.js'

const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({})
// A lone UTF-16 surrogate has no UTF-8 form, so no percent-encoding or body can carry it.
const LONE_SURROGATE = /\p{Cs}/u

/** Why a rendered value cannot be sent where its field puts it, or undefined. Never quotes the value (it may be a secret). */
function wireProblem(type: CompiledField['type'], value: string): string | undefined {
  // Visible ASCII, SP/HTAB inside only: what every backend reads as these very characters (config/header-value.ts).
  if (type === 'header') return headerValueProblem(value)
  return LONE_SURROGATE.test(value) ? 'is not well-formed Unicode (it has a lone UTF-16 surrogate)' : undefined
}

function scopeOf(ctx: Admitted): TemplateScope {
  const profileFields = ctx.endpoint.profile?.config.additionalFields
  const tokenFields = ctx.auth.token?.fields
  // Merged only when both have fields (a copy per request costs); by fromEntries, as Object.assign sets a `__proto__` field as the prototype.
  const fields = tokenFields === undefined ? (profileFields ?? NO_FIELDS) : profileFields === undefined ? tokenFields : Object.fromEntries([...Object.entries(profileFields), ...Object.entries(tokenFields)])
  const scope: TemplateScope = { fields, claims: ctx.caller.claims }
  if (ctx.tenant !== undefined) scope.tenant = ctx.tenant
  if (ctx.auth.user !== undefined) scope.user = ctx.auth.user
  return scope
}

/**
 * What must read the body: payload fields, set in a JSON or form body; and query fields beside a
 * body a backend reads as parameters too: their same-name parameters go from a form body (PHP's
 * $_REQUEST, Spring's @RequestParam and servlets read query and form parameters as one set) and
 * their same-name keys from a JSON object (Laravel's input() reads its keys over the query), and a
 * multipart body naming a part like one is refused (PHP reads parts over the query; the gateway
 * does not rewrite multipart bodies).
 */
async function applyBody(ctx: Admitted, payload: readonly { key: string; value: string }[], queryKeys: readonly string[], ct: string | undefined, form: boolean): Promise<void> {
  // A form media type that also holds "/json" or "+json" (`application/x-www-form-urlencoded; x=/json`):
  // PHP's $_REQUEST reads the body as a form while Laravel's input() reads it as JSON. Cleaning it
  // as one leaves the other reading the caller's parameter, so neither is guessed.
  if (form && readsAsJson(ct)) {
    const shown = (ct as string).length > 80 ? `${(ct as string).slice(0, 80)}…` : ct
    throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" sets query or payload fields, and Content-Type ${JSON.stringify(shown)} is read as a form by some backends (PHP) and as JSON by others (Laravel's input()): send one media type`)
  }
  if (payload.length > 0 ? isJson(ct) : readsAsJson(ct)) {
    refuseIfEncoded(ctx, payload.length > 0 ? 'sets payload fields' : 'sets query fields', 'a JSON body')
    // Re-serialised in UTF-8, so a backend decoding another charset reads another document.
    if (payload.length > 0) refuseForeignCharset(ctx, ct as string, 'sets payload fields', 'JSON')
    const raw = await ctx.outbound.body.bytes()
    const out = setJsonFields(raw, payload, queryKeys.flatMap(jsonPathsOfQueryName), ct)
    return out === raw ? undefined : ctx.outbound.body.replace(out)
  }
  if (form) {
    // Latin-1: one character per byte, so the parameters kept keep their bytes (UTF-8 made U+FFFD of a raw E9).
    const raw = (await ctx.outbound.body.bytes()).toString('latin1')
    // As in the query: no caller parameter a backend would read as a field's name stays beside it.
    const kept = removeParameters(raw, byteNameMatcher(parameterMatcher([...queryKeys, ...payload.map((f) => f.key)])))
    if (payload.length === 0) return kept === raw ? undefined : ctx.outbound.body.replace(Buffer.from(kept, 'latin1'))
    const added = encodeFormFields(payload, ct)
    // First, as in the query (applyQuery): a parameter limit cuts the caller's, not the gateway's.
    return ctx.outbound.body.replace(Buffer.from(kept === '' ? added : `${added}&${kept}`, 'latin1'))
  }
  if (payload.length > 0) throw new GatewayError('unsupported_payload', `payload field(s) ${payload.map((f) => f.key).join(', ')} need a JSON object or form body, not "${ct ?? 'no content type'}"`)
  if (isMultipart(ct)) return refuseShadowingParts(ctx, queryKeys)
}

/** Refuses a multipart body with a part a backend may read as one of the query fields `keys` (multipart-names.ts). */
async function refuseShadowingParts(ctx: Admitted, keys: readonly string[]): Promise<void> {
  refuseIfEncoded(ctx, 'sets query fields', 'a multipart body')
  // PHP's read buffer grows past PHP_LINE_BUFFER only for a boundary near as long; with it the
  // lines PHP cuts would be cut elsewhere. No real Content-Type comes near.
  if (ctx.outbound.headers['content-type'] !== undefined && String(ctx.outbound.headers['content-type']).length > PHP_LINE_BUFFER - 120) {
    throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" sets query fields, and the multipart body's Content-Type is over ${PHP_LINE_BUFFER - 120} bytes long: send a shorter boundary`)
  }
  const shadows = parameterMatcher(keys)
  const found = [...multipartNames(await ctx.outbound.body.bytes())].some(shadows)
  if (!found) return
  const named = keys.map((k) => `"${k}"`).join(', ')
  throw new GatewayError('unsupported_payload', `endpoint "${ctx.endpoint.name}" sets query field(s) ${named}, and the multipart body has a part (or a name= parameter) a backend may read as one: PHP's $_REQUEST and Laravel's input() read form parts over the query. Rename the part, or send it in another media type`)
}

/**
 * The names a payload field's value may be read under in the query: its key, and for a dotted key
 * the bracket form Rails and PHP nest (`auth.pin` is `auth[pin]`). Rails merges the query over
 * the body and servlets read query values first, so a caller's `?acct=` would win over the body.
 */
function payloadQueryNames(payload: readonly { key: string }[]): string[] {
  return payload.flatMap(({ key }) => {
    const parts = key.split('.')
    return parts.length === 1 ? [key] : [key, `${parts[0] as string}${parts.slice(1).map((p) => `[${p}]`).join('')}`]
  })
}

/**
 * Puts the field first in the raw query, after removing every caller parameter a backend parser
 * would read as the same name (parameter-names.ts); the others keep their exact bytes. First,
 * because parsers keep only so many parameters (PHP's max_input_vars, qs's parameterLimit: 1000)
 * and drop the rest: after 1,000 of the caller's, the field would not be read at all.
 */
function applyQuery(url: URL, key: string, value: string): void {
  const kept = removeParameters(url.search.slice(1), parameterMatcher([key]))
  const added = `${percentEncode(key)}=${percentEncode(value)}`
  url.search = kept === '' ? added : `${added}&${kept}`
}

/** Removes the caller's query parameters a backend may read as one of `names`; leaves the URL alone when none. */
function dropQueryParameters(url: URL, names: readonly string[]): void {
  const raw = url.search.slice(1)
  if (raw === '') return
  const kept = removeParameters(raw, parameterMatcher(names))
  if (kept !== raw) url.search = kept
}

/**
 * Fills the path fields into the placeholders of the endpoint's configured path (the URL's in
 * route mode, pathPrefix's otherwise), found once per endpoint: a `{{key}}` the caller wrote
 * anywhere else in the path is its own text and stays as sent (percent-encoded, as any "{").
 */
function applyPath(ctx: Admitted, fields: readonly { key: string; value: string }[]): void {
  const url = ctx.outbound.url
  const placeholders = ctx.target.placeholders
  const values = new Map<string, string>()
  for (const { key, value } of fields) {
    // The one-segment rule profile URL templates obey too (config/path-segment.ts).
    const problem = pathSegmentProblem(value)
    if (problem !== undefined) throw new GatewayError(problem.reason, `path field "${key}": its value ${problem.why}`)
    if (!placeholders.has(key)) throw new GatewayError('bad_request', `path field "${key}": the endpoint's configured path (its URL's in route mode, its pathPrefix otherwise) has no {{${key}}} placeholder`)
    values.set(key, percentEncode(value))
  }
  const path = placeholders.fill(url.pathname, values)
  // The filled path obeys the very rules a request path does (docs/paths.md), so a value can
  // never do what the same bytes in the request line are refused for.
  try {
    checkRequestPath(path)
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e
    const named = [...values.keys()].map((k) => `"${k}"`).join(', ')
    throw new GatewayError(e.reason, `path field${values.size > 1 ? 's' : ''} ${named}: with ${values.size > 1 ? 'their values' : 'its value'} filled in, ${e.message}`)
  }
  url.pathname = path
}

/** Renders every field; a template needing something the request lacks is a 400 naming it. */
export function renderFields(ctx: Admitted, fields: readonly CompiledField[]): { type: CompiledField['type']; key: string; value: string }[] {
  const scope = scopeOf(ctx)
  return fields.map((f) => {
    const r = renderTemplate(f.template, scope)
    if ('missing' in r) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}" needs ${r.missing}, which this request does not provide`)
    if ('wrongType' in r) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}" needs ${r.wrongType.name}, which the caller's JWT holds as ${r.wrongType.found}: a field value takes a string, a number or a boolean claim`)
    if ('inexact' in r) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}": ${r.inexact} is a JSON number a double does not hold exactly (an integer beyond 2^53, exponent notation, -0 or out of range), so its text is lost: the caller's JWT must carry it as a string`)
    // Judged here, before anything is sent: a value undici or percentEncode would reject is the caller's doing (400), not the upstream's (502) or ours (500).
    const problem = wireProblem(f.type, r.value)
    if (problem !== undefined) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}": its value ${problem}`)
    return { type: f.type, key: f.key, value: r.value }
  })
}

export const applyAuthorization: Step = {
  name: 'apply_authorization',
  // Synchronous unless the body must be read (applyBody): no promise or microtask turn otherwise.
  run(ctx) {
    if (setLiteralHeaders(ctx)) return // no fields, or fixed header text only (literal-header-fields.ts)
    const rendered = renderFields(ctx, ctx.endpoint.fields)
    const payload: { key: string; value: string }[] = []
    const path: { key: string; value: string }[] = []
    const query: { key: string; value: string }[] = []
    for (const f of rendered) {
      if (f.type === 'header') setGatewayHeader(ctx.outbound, f.key, f.value)
      else if (f.type === 'query') query.push(f)
      else if (f.type === 'path') path.push(f)
      else payload.push(f)
    }
    // Read only when a field edits it: the outbound URL is parsed at its first read (outbound-request.ts).
    // Before the query fields are added, so a query field of the same name stays.
    if (payload.length > 0) dropQueryParameters(ctx.outbound.url, payloadQueryNames(payload))
    // Last to first: each goes in front, so they lead the query in the configured order.
    for (const f of query.toReversed()) applyQuery(ctx.outbound.url, f.key, f.value)
    // All at once: filled one by one, a value spelling another field's placeholder would be filled too.
    if (path.length > 0) applyPath(ctx, path)
    if (payload.length === 0 && query.length === 0) return
    dropCookies(ctx, [...query.map((f) => f.key), ...payloadQueryNames(payload)])
    const ct = contentTypeOf(ctx)
    const form = isFormBody(ctx, ct, 'sets query or payload fields')
    // Beside query fields only a body backends merge with the query is read (an empty form still takes payload fields).
    if (payload.length > 0 || (query.length > 0 && (form || (ctx.outbound.body.present && (readsAsJson(ct) || isMultipart(ct)))))) return applyBody(ctx, payload, query.map((f) => f.key), ct, form)
  },
}
