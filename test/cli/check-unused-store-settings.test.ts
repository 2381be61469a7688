/**
 * Store settings the store's kind never reads (with `kind: sqlite`, or the kind left at its
 * default: `url`, `keyPrefix`, `redis`; with `kind: redis`: `file`) are a warning at each key's
 * file:line:column in `check`, without failing it; a start and each accepted reload log the same
 * words (logConfigWarnings). Before, nothing said a `url` did nothing while the store was SQLite.
 * The URL is never echoed: it may hold a password.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { logConfigWarnings } from '../../src/ops/config-warnings.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let run = 0
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

type Key = 'file' | 'url' | 'keyPrefix' | 'redis'
const LINES: Record<Key, (dir: string) => string> = {
  file: (dir) => `  file: ${dir}/unused-store.db\n`,
  url: () => '  url: "redis://:pa55word-9@127.0.0.1:6390/0"\n',
  keyPrefix: () => '  keyPrefix: "gw:"\n',
  redis: () => '  redis: { commandTimeout: 2s }\n',
}

/** A config whose `store:` (line 3) writes `kind` (unless undefined) and then `keys` in order, one a line from line 4 or 5. */
function configWith(kind: 'sqlite' | 'redis' | undefined, keys: readonly Key[]): string {
  const store = `${kind === undefined ? '' : `  kind: ${kind}\n`}${keys.map((k) => LINES[k](pki.dir)).join('')}`
  return pki.write(`unused-store-${++run}.yaml`, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore:${store === '' ? ' {}\n' : `\n${store}`}endpoints: []\n`)
}

const unusedMsg = (key: Key, kind: 'sqlite' | 'redis'): string => {
  const other = kind === 'sqlite' ? 'redis' : 'sqlite'
  return `unused: store.kind is ${kind}, and only kind ${other} reads store.${key}; remove it, or set store.kind: ${other} if a ${other === 'redis' ? 'Redis' : 'SQLite'} store was meant`
}
const warningsIn = (output: string): string[] => output.split('\n').filter((l) => l.includes(': warning: unused: store.kind'))

describe('store settings the store kind does not read', () => {
  it('with kind sqlite, url, keyPrefix and redis are each a warning at their line in check; check still passes and never shows the URL', () => {
    const file = configWith('sqlite', ['url', 'keyPrefix', 'redis', 'file'])
    const r = runCheck(file)
    expect(r.ok, r.output).toBe(true)
    expect(warningsIn(r.output)).toEqual([
      `${file}:5:8: store.url: warning: ${unusedMsg('url', 'sqlite')}`,
      `${file}:6:14: store.keyPrefix: warning: ${unusedMsg('keyPrefix', 'sqlite')}`,
      `${file}:7:10: store.redis: warning: ${unusedMsg('redis', 'sqlite')}`,
    ])
    expect(r.output).not.toContain('pa55word-9')
  })

  it('with kind redis, file is the warning; and a start or an accepted reload logs the same words at the same place', () => {
    const file = configWith('redis', ['file', 'url'])
    expect(warningsIn(runCheck(file).output)).toEqual([`${file}:5:9: store.file: warning: ${unusedMsg('file', 'redis')}`])
    const warned: { fields: Record<string, unknown>; msg: string }[] = []
    const logger = { warn: (fields: Record<string, unknown>, msg: string) => void warned.push({ fields, msg }) } as unknown as Parameters<typeof logConfigWarnings>[0]
    logConfigWarnings(logger, loadConfig(file))
    expect(warned).toEqual([{ fields: { key: 'store.file', file, line: 5, column: 9 }, msg: unusedMsg('file', 'redis') }])
  })

  it('property: exactly the written keys the kind does not read are warned, the kind written or left at its default (seeded)', () => {
    const keys = fc.subarray<Key>(['file', 'url', 'keyPrefix', 'redis'])
    fc.assert(
      fc.property(fc.constantFrom('sqlite' as const, 'redis' as const, undefined), keys, (kind, written) => {
        // A Redis store needs its server named.
        const all = kind === 'redis' && !written.includes('url') ? [...written, 'url' as const] : written
        const r = runCheck(configWith(kind, all))
        expect(r.ok, r.output).toBe(true)
        const unread: Key[] = kind === 'redis' ? ['file'] : ['url', 'keyPrefix', 'redis']
        expect(warningsIn(r.output).map((l) => l.split(': ')[1])).toEqual(all.filter((k) => unread.includes(k)).map((k) => `store.${k}`))
      }),
      { seed: 0x57de, numRuns: 40 },
    )
  })
})
