/**
 * Load-time check of header authorization fields: text fixed at load (the template's literal text,
 * and `{{fields.NAME}}` of an `additionalFields` entry no user field can replace) that breaks the
 * header-value rule (header-value.ts) would make every request a 400, so it is a config problem
 * at the field's value. Rendered values are judged again per request (apply-authorization).
 */
import { fixedHeaderTextProblem, type FixedPiece } from './header-value.js'
import type { Report } from './normalize-util.js'
import { parseTemplate, type TemplatePart } from './template.js'
import type { EndpointConfig, FieldConfig, ProfileConfig } from './types.js'

/** The text a part has at load, or undefined when a request fills it; `used` collects the additionalFields drawn on. */
function fixedPiece(part: TemplatePart, profile: ProfileConfig | undefined, used: Set<string>): FixedPiece {
  if (part.kind === 'text') return part.text
  // A user's stored fields win over additionalFields (apply-authorization's scope): only a name no user field shares is fixed.
  if (part.kind !== 'field' || profile === undefined || profile.userFields.includes(part.name) || !Object.hasOwn(profile.additionalFields, part.name)) return undefined
  used.add(part.name)
  return profile.additionalFields[part.name]
}

function checkHeaderFields(fields: readonly FieldConfig[], profile: ProfileConfig | undefined, report: Report): void {
  fields.forEach((f, i) => {
    if (f.type !== 'header') return
    let parts: readonly TemplatePart[]
    try {
      parts = parseTemplate(f.value).parts
    } catch {
      return // reported where fields are normalised
    }
    const used = new Set<string>()
    const problem = fixedHeaderTextProblem(parts.map((p) => fixedPiece(p, profile, used)))
    if (problem === undefined) return
    const from = used.size === 0 ? '' : ` (with ${[...used].map((n) => `additionalFields.${n}`).join(', ')} filled in)`
    report(['fields', i, 'value'], `header field "${f.key}": every value it renders${from} ${problem}`)
  })
}

/** Reports each header field whose every rendering a header cannot carry as-is: an endpoint's own, and a profile's. */
export function checkHeaderFieldValues(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  for (const p of profiles) checkHeaderFields(p.fields, p, (path, msg) => report(['profiles', p.index, ...path], msg))
  for (const e of endpoints) {
    const profile = profiles.find((p) => p.name === e.profile)
    checkHeaderFields(e.fields, profile, (path, msg) => report(['endpoints', e.index, ...path], msg))
  }
}
