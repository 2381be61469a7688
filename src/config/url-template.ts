/**
 * URL templates (a profile's request-token, access-token, authorize and callback URLs):
 * the placeholders of field templates, each value percent-encoded for the URL part it
 * lands in, so no value can add a delimiter, and a path segment a value takes part in must
 * obey the one-segment rule of path fields (path-segment.ts) at every decoding depth. Only
 * the tenant (a DNS label) may appear in the host; nothing may touch the scheme, userinfo or
 * port, so the origin is fixed by the config and the tenant alone.
 */
import { pathSegmentProblem } from './path-segment.js'
import { TENANT_LABEL } from './tenant-label.js'
import { parseTemplate, renderTemplate, type TemplatePart, type TemplateScope } from './template.js'

/** Where in a URL a placeholder sits. */
export type UrlPart = 'host' | 'path' | 'query' | 'fragment'

/** A parsed URL template: every part with the URL part it lands in. */
export interface UrlTemplate {
  readonly source: string
  readonly parts: readonly { readonly part: TemplatePart; readonly in: UrlPart }[]
  /** The `NAME`s of its `{{fields.NAME}}` placeholders. */
  readonly fieldNames: readonly string[]
}

/** What a URL template may draw on: a field template's scope without caller claims. */
export type UrlScope = Omit<TemplateScope, 'claims'>

/** A filled URL, and the same with only the tenant filled (safe for messages and logs). */
export type FilledUrl = { url: string; shown: string } | { missing: string } | { refused: string }

const SCHEME = /^https?:\/\//
const NEXT_PART: Record<UrlPart, Partial<Record<string, UrlPart>>> = {
  host: { '/': 'path', '?': 'query', '#': 'fragment' },
  path: { '?': 'query', '#': 'fragment' },
  query: { '#': 'fragment' },
  fragment: {},
}

/** Parses a URL template; throws an Error saying what is not allowed where. */
export function parseUrlTemplate(source: string): UrlTemplate {
  if (!SCHEME.test(source)) throw new Error('must start with http:// or https://')
  const parsed = parseTemplate(source)
  const parts: { part: TemplatePart; in: UrlPart }[] = []
  let at: UrlPart = 'host'
  let hostText = ''
  for (const part of parsed.parts) {
    if (part.kind === 'text') {
      const text = parts.length === 0 ? part.text.replace(SCHEME, '') : part.text
      for (const c of text) {
        if (at === 'host') hostText += c
        at = NEXT_PART[at][c] ?? at
      }
    } else if (part.kind === 'claim') {
      throw new Error(`{{claims.${part.name}}} cannot be used in a URL: the dance has no caller assertion`)
    } else if (at === 'host' && (part.kind !== 'tenant' || /[:@]/.test(hostText))) {
      throw new Error('only {tenant} may appear in the host, and not in the port or userinfo')
    }
    parts.push({ part, in: at })
  }
  if (hostText.includes('@')) throw new Error('must not contain userinfo (user@host)')
  const fieldNames = [...new Set(parsed.parts.flatMap((p) => (p.kind === 'field' ? [p.name] : [])))]
  return { source, parts, fieldNames }
}

/** RFC 3986 unreserved characters stay, everything else is `%XX` of its UTF-8: safe in a path segment and a query. */
function encodeComponent(value: string): string | undefined {
  try {
    return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  } catch {
    return undefined // a lone surrogate has no UTF-8 form
  }
}

function nameOf(p: TemplatePart): string {
  return p.kind === 'field' ? `fields.${p.name}` : p.kind === 'claim' ? `claims.${p.name}` : p.kind
}

/** Fills a template: a missing value or one the URL part cannot hold is reported by name, never guessed. */
export function fillUrlTemplate(t: UrlTemplate, scope: UrlScope): FilledUrl {
  let url = ''
  let shown = ''
  const pathValues: PathValue[] = []
  for (const { part, in: where } of t.parts) {
    if (part.kind === 'text') {
      url += part.text
      shown += part.text
      continue
    }
    const r = renderTemplate({ source: '', parts: [part], literal: false }, { ...scope, claims: {} })
    if ('missing' in r) return { missing: r.missing }
    // Unreachable (no claims here), but the type says a claim could be rounded or of another type.
    if ('inexact' in r) return { refused: `${r.inexact} is a number JSON may have rounded` }
    if ('wrongType' in r) return { refused: `${r.wrongType.name} is ${r.wrongType.found}` }
    const value = where === 'host' ? (TENANT_LABEL.test(r.value) ? r.value : undefined) : encodeComponent(r.value)
    if (value === undefined) return { refused: `${nameOf(part)} is not ${where === 'host' ? 'a DNS label' : 'valid Unicode'}` }
    if (where === 'path') pathValues.push({ start: url.length, end: url.length + value.length, name: nameOf(part) })
    url += value
    shown += part.kind === 'tenant' ? value : `{{${nameOf(part)}}}`
  }
  const problem = pathSegmentsProblem(url, pathValues)
  return problem === undefined ? { url, shown } : { refused: problem }
}

/** Where a filled value sits in the URL, and its placeholder's name. */
interface PathValue {
  readonly start: number
  readonly end: number
  readonly name: string
}

/**
 * Each path segment a value took part in, read whole (the text its values and literal
 * spell, i.e. decoded once), must pass the one-segment rule path fields obey: at every
 * decoding depth and NFKC form one ordinary segment, so `..%2Fx` cannot leave its place
 * where a backend decodes `%2F`, nor `%2` + `e.` make `..` two decodings down.
 */
function pathSegmentsProblem(url: string, values: readonly PathValue[]): string | undefined {
  const segments = new Map<number, { end: number; names: string[] }>()
  for (const { start, end, name } of values) {
    const from = url.lastIndexOf('/', start - 1) + 1
    const stop = url.slice(end).search(/[/?#]/)
    const segment = segments.get(from) ?? { end: stop === -1 ? url.length : end + stop, names: [] }
    if (!segment.names.includes(name)) segment.names.push(name)
    segments.set(from, segment)
  }
  for (const [from, { end, names }] of segments) {
    const problem = pathSegmentProblem(decodedOnce(url.slice(from, end)))
    if (problem !== undefined) return `the path segment holding ${names.join(', ')} ${problem.why}`
  }
  return undefined
}

/** The text a URL-form segment spells; as is when its literal part has a malformed "%" (the rule then judges the encoded form). */
function decodedOnce(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
