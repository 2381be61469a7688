/**
 * Review rev-i: a query field reads every JSON body beside it (Laravel's input() reads its keys
 * over the query), so the key index is built for any caller's object. It kept a map entry (and an
 * array) per folded form of every key: a 10 MiB object of a million keys held one thread for
 * 27 s. Counted here in map entries, not in time: the index is plain arrays, a few entries per
 * call whatever the object's size.
 */
import { expect, it } from 'vitest'
import { jsonPathsOfQueryName } from '../../src/proxy/parameter-names.js'
import { setJsonFields } from '../../src/proxy/steps/json-payload.js'

it('removing a query field\'s keys from an object of 20,000 keys makes no map entry per key', () => {
  const doc: Record<string, unknown> = {}
  for (let i = 0; i < 20_000; i++) doc[`k${i}`] = i
  doc['ACCT'] = 'evil'
  doc['nested'] = { acct: 'kept' }
  const body = Buffer.from(JSON.stringify(doc))
  const set = Map.prototype.set
  let sets = 0
  Map.prototype.set = function (this: Map<unknown, unknown>, key: unknown, value: unknown) {
    sets++
    return set.call(this, key, value)
  }
  let out: Buffer
  try {
    out = setJsonFields(body, [], jsonPathsOfQueryName('acct'))
  } finally {
    Map.prototype.set = set
  }
  const sent = JSON.parse(out.toString()) as Record<string, unknown>
  expect(sent['ACCT']).toBeUndefined()
  expect(sent['nested']).toEqual({ acct: 'kept' })
  expect(Object.keys(sent)).toHaveLength(20_001)
  expect(sets).toBeLessThan(100)
})
