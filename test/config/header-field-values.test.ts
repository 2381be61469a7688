/**
 * A header field whose every value breaks the header-value rule (visible ASCII, SP/HTAB only
 * inside) would make every request a 400: its literal text, or an `additionalFields` entry it
 * draws on that no user field replaces, is a config error at the field's value, never quoting it.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const file = '/etc/gw/gateway.yaml'
const TLS = '    tls: { cert: client.crt, key: client.key, roots: root.crt }\n'
const CHARACTER = 'has a character a header cannot carry as-is: only visible ASCII, space and tab may be sent'
const EDGE = 'starts or ends with a space or tab, which is not part of a header value (RFC 9110 §5.5): a backend would read another value'

/** The problems of one endpoint (line 2) with `value` as a header field's value (line 4), and `profile` if given. */
function problemsOf(value: string, profile = '', type = 'header', env: NodeJS.ProcessEnv = {}): string[] {
  const endpoint = `endpoints:\n  - name: partner\n    url: https://a.test\n    fields: [{ type: ${type}, key: X-User, value: ${value} }]\n${profile === '' ? '' : '    profile: p\n'}${TLS}`
  const profiles = profile === '' ? '' : `profiles:\n  - name: p\n    consumerKey: k\n    consumerSecret: s3cret-value\n${profile}`
  return configErrorLines(() => parseConfig(file, `${endpoint}${profiles}`, { env }))
}

describe('header field values at load', () => {
  it('literal text with a non-ASCII character or a control is refused at the value, never quoted', () => {
    for (const value of ['"josé"', '"jos\\u00c3\\u00a9"', '"Bearer {{claims.t}} ✓"', '"a\\u0000b"', '"caf\\u20ac"']) {
      const lines = problemsOf(value)
      expect(lines, value).toEqual([expect.stringMatching(new RegExp(`^${file}:4:50: endpoints\\[0\\]\\.fields\\[0\\]\\.value: header field "X-User": every value it renders ${CHARACTER}`))])
      expect(lines.join('\n')).not.toMatch(/jos|caf|✓/)
    }
  })

  it('literal text that puts a space or tab at either end of every value is refused; inside, or beside a placeholder, it is not', () => {
    for (const value of ['" 42"', '"42\\t"', '"  {{user}}"', '"{{claims.v}} "']) {
      expect(problemsOf(value), value).toEqual([`${file}:4:50: endpoints[0].fields[0].value: header field "X-User": every value it renders ${EDGE}`])
    }
    for (const value of ['"Bearer {{claims.t}}"', '"{{user}} x"', '"a\\tb"', '""', '"{{claims.a}} {{claims.b}}"']) expect(problemsOf(value), value).toEqual([])
  })

  it('an additionalFields entry a header field draws on is judged as its text, unless a user field of that name can replace it', () => {
    const extra = (v: string): string => `    additionalFields: { api_key: ${v} }\n`
    expect(problemsOf('"{{fields.api_key}}"', extra('"${env:KEY}"'), 'header', { KEY: 'sécret-key' })).toEqual([
      `${file}:4:50: endpoints[0].fields[0].value: header field "X-User": every value it renders (with additionalFields.api_key filled in) ${CHARACTER} (not a control character such as CR, LF or NUL, nor any non-ASCII character, which would reach the backend as other bytes or be read as other text)`,
    ])
    expect(problemsOf('"{{fields.api_key}}x"', extra('" k"'))).toEqual([`${file}:4:50: endpoints[0].fields[0].value: header field "X-User": every value it renders (with additionalFields.api_key filled in) ${EDGE}`])
    expect(problemsOf('"{{fields.api_key}} x"', extra('""'))).toEqual([`${file}:4:50: endpoints[0].fields[0].value: header field "X-User": every value it renders (with additionalFields.api_key filled in) ${EDGE}`])
    expect(problemsOf('"{{fields.api_key}}"', `${extra('"clé"')}    userFields: [api_key]\n`)).toEqual([])
    expect(problemsOf('"k-{{fields.api_key}}"', extra('"k 1"'))).toEqual([])
  })

  it('a profile\'s own header field is judged the same, at its line', () => {
    const lines = problemsOf('"x"', '    fields: [{ type: header, key: X-Org, value: "{{fields.org}} " }]\n    additionalFields: { org: acme }\n')
    expect(lines).toEqual([`${file}:11:49: profiles[0].fields[0].value: header field "X-Org": every value it renders (with additionalFields.org filled in) ${EDGE}`])
  })

  it('other placements carry non-ASCII text and are not judged by this rule', () => {
    for (const type of ['query', 'payload']) expect(problemsOf('"josé "', '', type), type).toEqual([])
  })
})
