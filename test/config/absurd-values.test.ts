/**
 * Values no deployment can mean: 1e12 replicas to confirm each Redis write (every write would wait
 * out acknowledgeTimeout and fail with 503), a 1 PB body limit (a buffered body is read as one
 * string, and V8 holds at most 536870888 characters), a 1 PB total of buffered bodies. Refused at
 * load (check, start and reload read the same), at the value's line, with the maximum (the minimum, 0, is the schema's) and why.
 * The defaults and the largest allowed values still load.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-absurd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')
const parse = (text: string) => parseConfig(file, `endpoints: []\n${text}`, { env: {} })
const redis = (line: string) => `store:\n  kind: redis\n  url: redis://127.0.0.1:6379\n  redis:\n    ${line}\n`

describe('absurd values are refused with the allowed range', () => {
  it('store.redis.replicasToAcknowledge: 1e12 is refused; 100 (its maximum) and the defaults load', () => {
    expect(configErrorLines(() => parse(redis('replicasToAcknowledge: 1000000000000')))).toEqual([
      `${file}:6:28: store.redis.replicasToAcknowledge: 1000000000000 is more than the maximum, 100: Redis WAIT counts the replicas of one primary, and a count no deployment has makes every write wait out acknowledgeTimeout and fail with 503`,
    ])
    expect(parse(redis('replicasToAcknowledge: 100')).store.redis?.replicasToAcknowledge).toBe(100)
    expect(parse(redis('gateReadiness: false')).store.redis?.replicasToAcknowledge).toBe(0)
  })
  it('limits.maxBufferedBody: 1 PB is refused; 536870888 bytes (its maximum) and the default load', () => {
    expect(configErrorLines(() => parse('limits:\n  maxBufferedBody: 1000000000000000\n  maxBufferedTotal: 0\n'))).toEqual([
      `${file}:3:20: limits.maxBufferedBody: 1000000000000000 bytes is more than the maximum, 536870888 bytes: a buffered body is read as one string (a JSON or form body), and V8 holds at most 536870888 characters`,
    ])
    expect(configErrorLines(() => parse('limits:\n  maxBufferedBody: 1024GiB\n  maxBufferedTotal: 0\n'))[0]).toMatch(/^.*:3:20: limits\.maxBufferedBody: 1099511627776 bytes is more than the maximum/)
    expect(parse('limits:\n  maxBufferedBody: 536870888\n  maxBufferedTotal: 0\n').limits.maxBufferedBody).toBe(536870888)
    expect(parse('').limits).toEqual({ maxBufferedBody: 10 * 1024 * 1024, maxBufferedTotal: 64 * 1024 * 1024 })
  })
  it('limits.maxBufferedTotal: 1 PB is refused; 1024GiB (its maximum) loads', () => {
    expect(configErrorLines(() => parse('limits:\n  maxBufferedTotal: 1000000000000000\n'))).toEqual([
      `${file}:3:21: limits.maxBufferedTotal: 1000000000000000 bytes is more than the maximum, 1099511627776 bytes (1024GiB): peak memory is about 5 × this, more than any one process is given`,
    ])
    expect(parse('limits:\n  maxBufferedTotal: 1024GiB\n').limits.maxBufferedTotal).toBe(1024 ** 4)
  })
})
