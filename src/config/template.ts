/**
 * Field value templates: literal text with `{{tenant}}`, `{{user}}`, `{{fields.NAME}}`
 * and `{{claims.NAME}}` (`{tenant}` is accepted as in URLs). Parsed once at load into
 * parts, so a request only concatenates.
 */

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'tenant' }
  | { kind: 'user' }
  | { kind: 'field'; name: string }
  | { kind: 'claim'; name: string }

export interface Template {
  readonly source: string
  readonly parts: readonly TemplatePart[]
  /** True when the value is the same for every request. */
  readonly literal: boolean
}

const PLACEHOLDER = /\{\{\s*([^}\s]+)\s*\}\}|\{tenant\}/g

/** Parses a template; throws an Error naming the unknown placeholder. */
export function parseTemplate(source: string): Template {
  const parts: TemplatePart[] = []
  let last = 0
  for (const m of source.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ kind: 'text', text: source.slice(last, m.index) })
    last = m.index + m[0].length
    const name = m[1] ?? 'tenant'
    if (name === 'tenant') parts.push({ kind: 'tenant' })
    else if (name === 'user') parts.push({ kind: 'user' })
    else if (name.startsWith('fields.') && name.length > 7) parts.push({ kind: 'field', name: name.slice(7) })
    else if (name.startsWith('claims.') && name.length > 7) parts.push({ kind: 'claim', name: name.slice(7) })
    else throw new Error(`unknown placeholder {{${name}}}: use {{tenant}}, {{user}}, {{fields.NAME}} or {{claims.NAME}}`)
  }
  if (last < source.length) parts.push({ kind: 'text', text: source.slice(last) })
  return { source, parts, literal: parts.every((p) => p.kind === 'text') }
}

/** What a template may draw on for one request. */
export interface TemplateScope {
  tenant?: string
  user?: string
  fields: Readonly<Record<string, string>>
  claims: Readonly<Record<string, unknown>>
}

/** A claim the JWT holds whose JSON type a field value cannot take; never its value. */
export interface WrongTypeClaim {
  readonly name: string
  readonly found: 'an array' | 'an object' | 'null'
}

/** What rendering gives: the value, or why not, by name. */
export type Rendered = { value: string } | { missing: string } | { inexact: string } | { wrongType: WrongTypeClaim }

/**
 * Renders a template; returns the name of the first missing value instead of guessing, of a
 * claim present but an array, object or null (`wrongType`), or of a number claim JSON parsing
 * may have rounded (`inexact`).
 */
export function renderTemplate(t: Template, scope: TemplateScope): Rendered {
  let out = ''
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text
    else if (p.kind === 'tenant') {
      if (scope.tenant === undefined) return { missing: 'tenant' }
      out += scope.tenant
    } else if (p.kind === 'user') {
      if (scope.user === undefined) return { missing: 'user' }
      out += scope.user
    } else if (p.kind === 'field') {
      // Own string fields only: a `toString` the user's fields lack is missing, not Object's function as text.
      const v = Object.hasOwn(scope.fields, p.name) ? scope.fields[p.name] : undefined
      if (typeof v !== 'string') return { missing: `fields.${p.name}` }
      out += v
    } else {
      // Own claims only: `constructor` the JWT lacks is missing, not Object's function as text.
      const v = Object.hasOwn(scope.claims, p.name) ? scope.claims[p.name] : undefined
      if (v === undefined) return { missing: `claims.${p.name}` }
      if (v === null || typeof v === 'object') return { wrongType: { name: `claims.${p.name}`, found: v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object' } }
      if (typeof v === 'number' && !isExactNumber(v)) return { inexact: `claims.${p.name}` }
      out += String(v)
    }
  }
  return { value: out }
}

/**
 * Whether a parsed JSON number reads back as the issuer wrote it. Claims are parsed with JSON.parse,
 * so `12345678901234567891` is already 12345678901234567000 (another account id) and `1e21` writes
 * as `1e+21`, `-0` as `0`, `1e400` as `Infinity`: past 2^53 every integer may be a rounded neighbour.
 */
function isExactNumber(v: number): boolean {
  if (Number.isSafeInteger(v)) return !Object.is(v, -0)
  return Number.isFinite(v) && !Number.isInteger(v) && !String(v).includes('e')
}
