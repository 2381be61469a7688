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

/** Renders a template; returns the name of the first missing value instead of guessing. */
export function renderTemplate(t: Template, scope: TemplateScope): { value: string } | { missing: string } {
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
      const v = scope.fields[p.name]
      if (v === undefined) return { missing: `fields.${p.name}` }
      out += v
    } else {
      const v = scope.claims[p.name]
      if (v === undefined || v === null || typeof v === 'object') return { missing: `claims.${p.name}` }
      out += String(v)
    }
  }
  return { value: out }
}
