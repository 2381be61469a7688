/**
 * `endpoints[].tenantHeader` names a header of its own. The gateway reads the tenant from it and
 * strips it before forwarding, so a name HTTP or the gateway gives meaning to (Host,
 * Content-Length, Authorization, Cookie, X-Gateway-User, a hop-by-hop header…) broke every call
 * on the endpoint, and a name that is not an HTTP token could never be sent. Both are refused
 * where the file is read (start, `check`, reload, the console's draft), naming the key.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-tenant-header-'))
const file = join(dir, 'gateway.yaml')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const RESERVED = ['Host', 'Content-Length', 'Transfer-Encoding', 'Content-Type', 'Content-Encoding', 'Connection', 'Keep-Alive', 'Proxy-Connection', 'TE', 'Trailer', 'Upgrade', 'Expect', 'Authorization', 'Proxy-Authorization', 'Cookie', 'X-Gateway-User']
const TOKEN_CHARS = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"

const yaml = (header: string): string =>
  `endpoints:\n  - name: partner\n    url: https://{tenant}.partner.test\n    tenantHeader: ${JSON.stringify(header)}\n    tls: { cert: c.pem, key: k.pem, roots: r.pem }\n`
const problemsOf = (header: string): string[] => configErrorLines(() => parseConfig(file, yaml(header), { env: {} }))
const tenantHeaderOf = (header: string): string => parseConfig(file, yaml(header), { env: {} }).endpoints[0]?.tenantHeader as string

/** `name` with each letter's case drawn at random. */
const anyCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''))

describe('endpoints[].tenantHeader', () => {
  it.each(RESERVED)('%s is refused, naming the key and why', (name) => {
    const lines = problemsOf(name)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`endpoints\\[0\\]\\.tenantHeader: cannot be "${name}": .+; name a header of its own, such as X-Gateway-Tenant$`))
  })

  it('the CGI spelling of a reserved name is the same header to backends that read it so: refused', () => {
    expect(problemsOf('X_Gateway_User')[0]).toMatch(/tenantHeader: cannot be "X_Gateway_User": it names the user/)
    expect(problemsOf('content_length')[0]).toMatch(/tenantHeader: cannot be "content_length": it frames the body/)
  })

  it.each(['X Tenant', 'X-Tenant:', 'X-Tenant\u00e9', '(tenant)', ''])('%j is not a header name: refused', (name) => {
    const lines = problemsOf(name)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/endpoints\[0\]\.tenantHeader: must be a header name: letters, digits and !#\$%&'\*\+-\.\^_`\|~ only$/)
  })

  it('the default and a header of its own load, kept in lower case', () => {
    expect(parseConfig(file, yaml('X-Gateway-Tenant').replace(/ {4}tenantHeader.*\n/, ''), { env: {} }).endpoints[0]?.tenantHeader).toBe('x-gateway-tenant')
    expect(tenantHeaderOf('X-Org-Id')).toBe('x-org-id')
  })

  it('property: a reserved name in any case is refused; any other token loads (2,000 runs)', () => {
    const reserved = new Set(RESERVED.map((n) => n.toLowerCase()))
    const token = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 24 })
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...RESERVED).chain(anyCase), token), (name) => {
        if (reserved.has(name.toLowerCase().replace(/_/g, '-'))) expect(problemsOf(name)).toHaveLength(1)
        else expect(tenantHeaderOf(name)).toBe(name.toLowerCase())
      }),
      { seed: 27_001, numRuns: 2000 },
    )
  })
})
