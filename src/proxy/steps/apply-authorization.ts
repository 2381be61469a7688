/**
 * apply_authorization: the endpoint's and profile's authorization fields, rendered from
 * the request context and injected into a header, the body (JSON or form), the query
 * string or a `{{name}}` path placeholder. Runs before signing so query and form fields
 * are covered by the OAuth signature.
 */
import { renderTemplate, type TemplateScope } from '../../config/index.js'
import { GatewayError } from '../../errors.js'
import type { CompiledField } from '../../gateway/index.js'
import { formEncode, isFormContentType, parseForm, percentEncode } from '../../oauth1/index.js'
import type { Admitted, Step } from '../pipeline.js'

const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({})

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

/** Sets `path` (dotted) in a JSON object, creating objects on the way. */
function setDotted(target: Record<string, unknown>, path: string, value: string, fieldName: string): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (next === undefined) node = node[part] = {}
    else if (next !== null && typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>
    else throw new GatewayError('unsupported_payload', `payload field "${fieldName}": "${part}" in the JSON body is not an object`)
  }
  node[parts[parts.length - 1] as string] = value
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
    const keys = new Set(fields.map((f) => f.key))
    const kept = parseForm(raw).filter(([k]) => !keys.has(k))
    ctx.outbound.body.replace(Buffer.from(formEncode([...kept, ...fields.map((f): [string, string] => [f.key, f.value])])))
  } else {
    throw new GatewayError('unsupported_payload', `payload field(s) ${names} need a JSON object or form body, not "${ct ?? 'no content type'}"`)
  }
}

function applyQuery(url: URL, key: string, value: string): void {
  // Edit the raw query so the other parameters keep their exact bytes.
  const kept = url.search.slice(1).split('&').filter((p) => p !== '' && decodeName(p) !== key)
  kept.push(`${percentEncode(key)}=${percentEncode(value)}`)
  url.search = kept.join('&')
}

function decodeName(pair: string): string {
  const name = pair.split('=')[0] ?? ''
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '))
  } catch {
    return name
  }
}

function applyPath(ctx: Admitted, key: string, value: string): void {
  const url = ctx.outbound.url
  const encoded = percentEncode(value)
  const forms = [`{{${key}}}`, `%7B%7B${key}%7D%7D`, `%7b%7b${key}%7d%7d`]
  const path = forms.reduce((p, f) => p.split(f).join(encoded), url.pathname)
  if (path === url.pathname) throw new GatewayError('bad_request', `path field "${key}": the URL path has no {{${key}}} placeholder`)
  url.pathname = path
}

/** Renders every field; a template needing something the request lacks is a 400 naming it. */
export function renderFields(ctx: Admitted, fields: readonly CompiledField[]): { type: CompiledField['type']; key: string; value: string }[] {
  const scope = scopeOf(ctx)
  return fields.map((f) => {
    const r = renderTemplate(f.template, scope)
    if ('missing' in r) throw new GatewayError('bad_request', `authorization field ${f.type} "${f.key}" needs ${r.missing}, which this request does not provide`)
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
    for (const f of rendered) {
      if (f.type === 'header') ctx.outbound.headers[f.key] = f.value
      else if (f.type === 'query') applyQuery(ctx.outbound.url, f.key, f.value)
      else if (f.type === 'path') applyPath(ctx, f.key, f.value)
      else payload.push(f)
    }
    if (payload.length > 0) return applyPayload(ctx, payload)
  },
}
