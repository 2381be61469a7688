/**
 * A private key pasted inline (a YAML block scalar) into a key that takes a file path is refused
 * at load, at that key, and no piece of it appears in any problem: what `check` prints, a refused
 * reload logs and the console's draft validator shows. Before, it was named in full as a file
 * that could not be read. A seeded property over generated key text and every path key.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { problemTextsThroughStart } from '../support/config-problems.js'

const file = '/etc/gw/gateway.yaml'
const EP = '  - name: a\n    url: https://a.example\n'
/** Configs with PEM at one path key; `PEM` is replaced by a block scalar indented for its place. */
const PLACES: readonly { yaml: string; key: string }[] = [
  { yaml: `endpoints:\n${EP}    tls:\n      cert: c.crt\n      key: PEM\n      roots: [r.crt]\n`, key: 'endpoints[0].tls.key' },
  { yaml: `endpoints:\n${EP}    tls:\n      cert: PEM\n      key: c.key\n      roots: [r.crt]\n`, key: 'endpoints[0].tls.cert' },
  { yaml: `endpoints:\n${EP}    tls:\n      pkcs12: PEM\n      roots: [r.crt]\n`, key: 'endpoints[0].tls.pkcs12' },
  { yaml: `endpoints:\n${EP}    tls:\n      dir: PEM\n`, key: 'endpoints[0].tls.dir' },
  { yaml: `endpoints:\n${EP}    tls:\n      cert: c.crt\n      key: c.key\n      roots:\n        - PEM\n`, key: 'endpoints[0].tls.roots[0]' },
  { yaml: 'listen:\n  tls:\n    cert: c.crt\n    key: PEM\nendpoints: []\n', key: 'listen.tls.key' },
  { yaml: 'admin:\n  tls:\n    cert: c.crt\n    key: PEM\nendpoints: []\n', key: 'admin.tls.key' },
  { yaml: 'interception:\n  caCert: c.crt\n  caKey: PEM\nendpoints: []\n', key: 'interception.caKey' },
  { yaml: 'profiles:\n  - name: p\n    consumerKey: k\n    signatureMethod: RSA-SHA256\n    privateKey: PEM\nendpoints: []\n', key: 'profiles[0].privateKey' },
]

const base64Line = fc.base64String({ minLength: 16, maxLength: 64 }).filter((b) => b.length >= 16)
const keyText = fc.array(base64Line, { minLength: 1, maxLength: 5 }).map((lines) => ['-----BEGIN PRIVATE KEY-----', ...lines, '-----END PRIVATE KEY-----'])

describe('a private key pasted inline where a path belongs', () => {
  it('is refused at its key, and no line of it shows in any problem', () => {
    fc.assert(
      fc.property(keyText, fc.constantFrom(...PLACES), fc.constantFrom('|', '|-', '>'), (lines, place, style) => {
        const indent = /^( *)\S.*PEM$/m.exec(place.yaml)?.[1] ?? ''
        const block = `${style}\n${lines.map((l) => `${indent}  ${l}`).join('\n')}`
        const found = problemTextsThroughStart(file, place.yaml.replace('PEM', block), {})
        for (const text of found) for (const line of lines.slice(1, -1)) expect(text.includes(line), `${line} in: ${text}`).toBe(false)
        expect(found[0]).toContain(`: ${place.key}: is PEM text, not a file path`)
      }),
      { seed: 0x9e4a7, numRuns: 300 },
    )
  })
})
