/**
 * Whether a body is form parameters is judged once for the steps that remove, add or sign
 * them (src/proxy/form-body.ts): a Content-Type any parser reads as a form is either a form to
 * the gateway (its same-name parameters go, the signature covers them) or refused; it is
 * "not a form" only when no parser below reads it as one. The models, from their sources:
 * PHP's SAPI lower-cases the type and cuts it at the first `;`, `,` or space; oauthlib looks
 * for the name anywhere; Go's mime.ParseMediaType and Werkzeug cut at `;` and trim.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { isFormBody } from '../../src/proxy/form-body.js'
import type { Admitted } from '../../src/proxy/pipeline.js'

const FORM = 'application/x-www-form-urlencoded'

const MODELS: Record<string, (ct: string) => boolean> = {
  php: (ct) => {
    const cut = /[;, ]/.exec(ct)
    return (cut ? ct.slice(0, cut.index) : ct).toLowerCase() === FORM
  },
  oauthlib: (ct) => ct.includes(FORM),
  strict: (ct) => (ct.split(';')[0] ?? '').trim().toLowerCase() === FORM,
  // Rack's form_data?: a POST whose media type is nil (no or empty Content-Type) is a form (these runs are POSTs).
  rack: (ct) => {
    const type = (ct.split(/[;,]/)[0] ?? '').trim().toLowerCase()
    return type === '' || type === FORM
  },
}

/** A request with a body (a stream not yet read), and one without. */
const request = (method: string, present: boolean): Admitted => ({ endpoint: { name: 'partner' }, outbound: { method, headers: {}, body: { present, stream: undefined, buffered: undefined } } }) as unknown as Admitted
const ctx = request('POST', true)
const bodiless = request('POST', false)

/** 'form', 'not', or 'refused' (400, naming the endpoint and the remedy). */
function judged(ct: string | undefined, request = ctx): 'form' | 'not' | 'refused' {
  try {
    return isFormBody(request, ct, 'sets query fields') ? 'form' : 'not'
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError)
    expect((e as GatewayError).reason).toBe('unsupported_payload')
    expect((e as GatewayError).message).toMatch(/^endpoint "partner" sets query fields, and (Content-Type .* is read as a form by some backends and not by others|the request has a body without a Content-Type, which some backends read as a form and others do not|the form body's Content-Type .* names a charset the gateway does not read forms in)/)
    return 'refused'
  }
}

describe('is this body form parameters?', () => {
  it('the reviewer\'s spellings, and the plain ones', () => {
    expect(judged(FORM)).toBe('form')
    expect(judged(`${FORM}; charset=utf-8`)).toBe('form')
    expect(judged('Application/X-WWW-Form-Urlencoded ;charset=UTF-8')).toBe('form')
    expect(judged(`${FORM},text/plain`)).toBe('refused')
    expect(judged(`${FORM} x`)).toBe('refused')
    expect(judged(`text/plain; x=${FORM}`)).toBe('refused')
    expect(judged('application/json')).toBe('not')
    expect(judged('multipart/form-data; boundary=x')).toBe('not')
    // A body without a type: Rack reads a POST's as a form (merged over the query), cgi.FieldStorage too.
    expect(judged(undefined)).toBe('refused')
    expect(judged('')).toBe('refused')
    expect(judged(' ')).toBe('refused')
    // Without a body nothing is refused: an empty form is a form (payload fields go into it).
    for (const t of [undefined, '', `${FORM},text/plain`, 'application/json']) expect(judged(t, bodiless)).toBe('not')
    expect(judged(FORM, bodiless)).toBe('form')
    // An untyped body is a form to Rack and cgi only in a POST: a PUT's (`curl -T`) passes.
    for (const method of ['PUT', 'PATCH']) for (const t of [undefined, '', ';charset=utf-8']) expect(judged(t, request(method, true))).toBe('not')
  })

  it('a type any model reads as a form is never passed on as "not a form"; one every model reads as a form is a form (10,000 runs)', () => {
    const core = fc.constantFrom(FORM, 'APPLICATION/X-WWW-FORM-URLENCODED', 'Application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data', 'application/x-www-form-urlencodedx', '')
    const sep = fc.constantFrom(';', ',', ' ', '\t', '', ', ', ' ;', '=')
    const piece = fc.oneof(core, fc.constantFrom('charset=utf-8', 'x', 'boundary=b'), fc.string({ maxLength: 6 }))
    const ct = fc.tuple(fc.constantFrom('', ' ', '\t'), core, fc.array(fc.tuple(sep, piece), { maxLength: 3 })).map(([lead, c, rest]) => lead + c + rest.map(([s, p]) => s + p).join(''))
    fc.assert(
      fc.property(ct, (t) => {
        const verdict = judged(t)
        const readers = Object.entries(MODELS).filter(([, reads]) => reads(t)).map(([name]) => name)
        if (readers.length > 0) expect(verdict, `${JSON.stringify(t)} is a form to ${readers.join(', ')}`).not.toBe('not')
        // A charset other than UTF-8 or an ASCII one is refused (form-charsets.test.ts): backends decode by it.
        const charsets = [...t.matchAll(/;\s*charset\s*=\s*"?([^";,\s]*)/gi)].map((m) => (m[1] ?? '').toLowerCase())
        const asSent = charsets.every((c) => c === charsets[0] && ['utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1'].includes(c))
        if (asSent && ['php', 'oauthlib', 'strict'].every((m) => readers.includes(m))) expect(verdict, JSON.stringify(t)).toBe('form')
      }),
      { seed: 0xf0b0d, numRuns: 10_000 },
    )
  })
})
