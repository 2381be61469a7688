/**
 * apply_authorization: the endpoint's and profile's authorization fields, rendered from
 * the request context and injected into a header, the body (JSON or form), the query
 * string or a `{{name}}` path placeholder. Runs before signing so query and form fields
 * are covered by the OAuth signature.
 */
import { pathSegmentProblem, renderTemplate, type TemplateScope } from '../../config/index.js'
import { GatewayError } from '../../errors.js'
import type { CompiledField } from '../../gateway/index.js'
import { formEncode, isFormContentType, percentEncode } from '../../oauth1/index.js'
import { setGatewayHeader } from '../gateway-headers.js'
import { jsonNameMatcher, parameterMatcher, removeParameters } from '../parameter-names.js'
import type { Admitted, Step } from '../pipeline.js'
import { checkRequestPath } from '../upstream-target.js'

const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({})
// RFC 9110 §5.5 field-value characters (HTAB, SP, VCHAR, obs-text): CR/LF/NUL would split or cut the
// header, and above U+00FF there is no octet to send.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
// A lone UTF-16 surrogate has no UTF-8 form, so no percent-encoding or body can carry it.
const LONE_SURROGATE = /\p{Cs}/u

/** Why a rendered value cannot be sent where its field puts it, or undefined. Never quotes the value (it may be a secret). */
function wireProblem(type: CompiledField['type'], value: string): string | undefined {
  if (type === 'header') return HEADER_VALUE.test(value) ? undefined : 'has a character a header cannot carry (a control character such as CR, LF or NUL, or one above U+00FF)'
  return LONE_SURROGATE.test(value) ? 'is not well-formed Unicode (it has a lone UTF-16 surrogate)' : undefined
}

function scopeOf(ctx: Admitted): TemplateScope {
  const profileFields = ctx.endpoint.profile?.config.additionalFields
  const tokenFields = ctx.auth.token?.fields
  // Merged only when both have fields: most requests have one source or none, and a copy per request costs.
  const fields = tokenFields === undefined ? (profileFields ?? NO_FIELDS) : profileFields === undefined ? tokenFields : Object.assign({}, profileFields, tokenFields)
  const scope: TemplateScope = { fields, claims: ctx.caller.claims }
  if (ctx.tenant !== undefined) scope.tenant = ctx.tenant
  if (ctx.auth.user !== undefined) scope.user = ctx.auth.user
  return scope
}

function contentTypeOf(ctx: Admitted): string | undefined {
  const ct = ctx.outbound.headers['content-type']
  return Array.isArray(ct) ? ct[0] : ct
}

function isJson(ct: string | undefined): boolean {
  return ct !== undefined && /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(ct)
}

/** Sets an own property (`__proto__` included) as a JSON document holds it. */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true })
}

/** Removes every key of `node` but `key` itself that a case-insensitive binder reads as `key` (jsonNameMatcher). */
function removeJsonShadows(node: Record<string, unknown>, key: string): void {
  const same = jsonNameMatcher(key)
  for (const other of Object.keys(node)) if (other !== key && same(other)) delete node[other]
}

/**
 * Sets `path` (dotted) in a JSON object, creating objects on the way. At every level the caller's
 * keys that a binder ignoring case reads as the path's key go, subtrees and all: beside the
 * gateway's `auth.acct`, `{"Auth":{…}}` would be a second object the backend merges or prefers.
 */
function setDotted(target: Record<string, unknown>, path: string, value: string, fieldName: string): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    removeJsonShadows(node, part)
    const next = Object.hasOwn(node, part) ? node[part] : undefined
    if (next === undefined) setOwn(node, part, (node = {}))
    else if (next !== null && typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>
    else throw new GatewayError('unsupported_payload', `payload field "${fieldName}": "${part}" in the JSON body is not an object`)
  }
  const last = parts[parts.length - 1] as string
  removeJsonShadows(node, last)
  setOwn(node, last, value)
}

async function applyPayload(ctx: Admitted, fields: { key: string; value: string }[]): Promise<void> {
  const ct = contentTypeOf(ctx)
  const names = fields.map((f) => f.key).join(', ')
  if (isJson(ct)) {
    const raw = await ctx.outbound.body.bytes()
    let doc: unknown
    try {
      doc = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'))
    } catch {
      throw new GatewayError('bad_request', `payload field(s) ${names}: the request body is not valid JSON`)
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new GatewayError('unsupported_payload', `payload field(s) ${names}: the JSON body must be an object`)
    for (const f of fields) setDotted(doc as Record<string, unknown>, f.key, f.value, f.key)
    ctx.outbound.body.replace(Buffer.from(JSON.stringify(doc)))
  } else if (isFormContentType(ct)) {
    const raw = (await ctx.outbound.body.bytes()).toString('utf8')
    // As in the query: no caller parameter a backend would read as a field's name stays beside it.
    const kept = removeParameters(raw, parameterMatcher(fields.map((f) => f.key)))
    const added = formEncode(fields.map((f): [string, string] => [f.key, f.value]))
    ctx.outbound.body.replace(Buffer.from(kept === '' ? added : `${kept}&${added}`))
  } else {
    throw new GatewayError('unsupported_payload', `payload field(s) ${names} need a JSON object or form body, not "${ct ?? 'no content type'}"`)
  }
}

/**
 * Adds the field to the raw query, after removing every caller parameter a backend parser
 * would read as the same name (parameter-names.ts); the others keep their exact bytes.
 */
function applyQuery(url: URL, key: string, value: string): void {
  const kept = removeParameters(url.search.slice(1), parameterMatcher([key]))
  const added = `${percentEncode(key)}=${percentEncode(value)}`
  url.search = kept === '' ? added : `${kept}&${added}`
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
    // Judged here, before anything is sent: a value undici or percentEncode would reject is the caller's doing (400), not the upstream's (502) or ours (500).
    const problem = wireProblem(f.type, r.value)
    if (problem !== undefined) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}": its value ${problem}`)
    return { type: f.type, key: f.key, value: r.value }
  })
}

export const applyAuthorization: Step = {
  name: 'apply_authorization',
  // Synchronous unless a payload field must read the body: no promise or microtask turn otherwise.
  run(ctx) {
    if (ctx.endpoint.fields.length === 0) return
    const rendered = renderFields(ctx, ctx.endpoint.fields)
    const payload: { key: string; value: string }[] = []
    const path: { key: string; value: string }[] = []
    for (const f of rendered) {
      if (f.type === 'header') setGatewayHeader(ctx.outbound, f.key, f.value)
      else if (f.type === 'query') applyQuery(ctx.outbound.url, f.key, f.value)
      else if (f.type === 'path') path.push(f)
      else payload.push(f)
    }
    // All at once: filled one by one, a value spelling another field's placeholder would be filled too.
    if (path.length > 0) applyPath(ctx, path)
    if (payload.length > 0) return applyPayload(ctx, payload)
  },
}
