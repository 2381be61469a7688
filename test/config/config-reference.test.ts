/**
 * docs/config-reference.md lists every key the schema accepts, walked here independently of the
 * generator: named properties, list items (`[]`), map values (`.<name>`) and the variants of an
 * `anyOf`/`oneOf`. The generator once skipped map values, leaving `endpoints[].tenants.<name>.tls`
 * and its keys out of the page.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

interface Node {
  properties?: Record<string, Node>
  items?: Node
  additionalProperties?: Node | boolean
  anyOf?: Node[]
  oneOf?: Node[]
}

/** Every key path under `node`, as the reference spells them. */
function keyPaths(node: Node, path: string): string[] {
  const own = Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const full = path ? `${path}.${key}` : key
    return [full, ...keyPaths(child, full)]
  })
  const items = node.items ? keyPaths(node.items, `${path}[]`) : []
  const map = typeof node.additionalProperties === 'object' ? [`${path}.<name>`, ...keyPaths(node.additionalProperties, `${path}.<name>`)] : []
  const variants = [...(node.anyOf ?? []), ...(node.oneOf ?? [])].flatMap((v) => keyPaths(v, path))
  return [...own, ...items, ...map, ...variants]
}

const schema = JSON.parse(readFileSync('config/gateway.schema.json', 'utf8')) as Node
const reference = readFileSync('docs/config-reference.md', 'utf8')
const rowKeys = new Set([...reference.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1] as string))

describe('the config reference', () => {
  it('has a row for every key of the schema, map values included', () => {
    expect(keyPaths(schema, '').filter((path) => !rowKeys.has(path))).toEqual([])
  })

  it('lists each tenant\'s tls keys under a <name> segment, with their defaults', () => {
    for (const key of ['cert', 'key', 'keyPassphrase', 'intermediates', 'pkcs12', 'pkcs12Passphrase', 'dir', 'roots', 'clientRoots', 'systemRoots', 'serverName', 'minVersion', 'maxVersion', 'pins', 'crl']) {
      expect(rowKeys, key).toContain(`endpoints[].tenants.<name>.tls.${key}`)
    }
    expect(reference).toContain('| `endpoints[].tenants.<name>.tls.systemRoots` | boolean | `false` |')
    expect(reference).toContain('| `endpoints[].tenants.<name>.tls.minVersion` | `TLSv1.2` \\| `TLSv1.3` | `"TLSv1.2"` |')
    expect(rowKeys).toContain('profiles[].additionalFields.<name>')
    expect(rowKeys).toContain('tracing.otlp.headers.<name>')
  })
})
