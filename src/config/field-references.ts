/**
 * Load-time check that every `{{fields.NAME}}` can ever be filled: a URL or field template
 * naming a field that neither its profile's `additionalFields` nor its `userFields`
 * define would fail every request, so it is a config problem (and `check` says so).
 */
import { parseTemplate } from './template.js'
import { parseUrlTemplate } from './url-template.js'
import type { Report } from './normalize-util.js'
import type { EndpointConfig, FieldConfig, ProfileConfig } from './types.js'

/** The profile URLs that are templates. */
export const PROFILE_URL_KEYS = ['requestTokenUrl', 'accessTokenUrl', 'authorizeUrl', 'callbackUrl'] as const

function definedFields(profile: ProfileConfig | undefined): Set<string> {
  return new Set([...Object.keys(profile?.additionalFields ?? {}), ...(profile?.userFields ?? [])])
}

function unknownMessage(name: string, profile: ProfileConfig | undefined): string {
  if (profile === undefined) return `{{fields.${name}}} is never filled: the endpoint has no profile`
  return `{{fields.${name}}} names a field profile "${profile.name}" does not define (add it to additionalFields or userFields)`
}

function checkFieldTemplates(fields: readonly FieldConfig[], profile: ProfileConfig | undefined, report: Report): void {
  const known = definedFields(profile)
  fields.forEach((f, i) => {
    let names: string[]
    try {
      names = parseTemplate(f.value).parts.flatMap((p) => (p.kind === 'field' ? [p.name] : []))
    } catch {
      return // reported where fields are normalised
    }
    for (const n of new Set(names)) if (!known.has(n)) report(['fields', i, 'value'], unknownMessage(n, profile))
  })
}

/** Reports bad URL templates and every field name no profile or user field defines. */
export function checkFieldReferences(endpoints: readonly EndpointConfig[], profiles: readonly ProfileConfig[], report: Report): void {
  for (const p of profiles) {
    const at: Report = (path, msg) => report(['profiles', p.index, ...path], msg)
    const known = definedFields(p)
    for (const key of PROFILE_URL_KEYS) {
      const source = p[key]
      if (source === undefined) continue
      try {
        const t = parseUrlTemplate(source)
        // The provider sends the browser back there; it is filled before any user is known.
        if (key === 'callbackUrl' && t.parts.some((x) => x.part.kind === 'user' || x.part.kind === 'field')) {
          at([key], 'is the gateway\'s own URL: only {tenant} may be used in it')
        }
        for (const n of t.fieldNames) if (!known.has(n)) at([key], unknownMessage(n, p))
      } catch (e) {
        at([key], (e as Error).message)
      }
    }
    checkFieldTemplates(p.fields, p, at)
  }
  for (const e of endpoints) {
    const profile = profiles.find((p) => p.name === e.profile)
    checkFieldTemplates(e.fields, profile, (path, msg) => report(['endpoints', e.index, ...path], msg))
  }
}
