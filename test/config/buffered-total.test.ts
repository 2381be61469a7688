/** `limits.maxBufferedTotal`: its default, 0 (no total), and refusal below `limits.maxBufferedBody`. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configProblems } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-buffered-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')
const MiB = 1024 * 1024
const parse = (limits: string) => parseConfig(file, `endpoints: []\n${limits}`, { env: {} })

describe('limits.maxBufferedTotal', () => {
  it('defaults to 64 MiB beside the 10 MiB body limit', () => {
    expect(parse('').limits).toEqual({ maxBufferedBody: 10 * MiB, maxBufferedTotal: 64 * MiB })
  })

  it('takes a size, 0 (no total), or exactly the body limit', () => {
    expect(parse('limits: { maxBufferedTotal: 32MiB }\n').limits.maxBufferedTotal).toBe(32 * MiB)
    expect(parse('limits: { maxBufferedTotal: 0 }\n').limits.maxBufferedTotal).toBe(0)
    expect(parse('limits: { maxBufferedBody: 1MiB, maxBufferedTotal: 1MiB }\n').limits).toEqual({ maxBufferedBody: MiB, maxBufferedTotal: MiB })
  })

  it('refuses a total below one body, naming both keys and where', () => {
    const problems = configProblems(() => parse('limits:\n  maxBufferedBody: 10MiB\n  maxBufferedTotal: 8MiB\n'))
    expect(problems).toEqual([expect.stringMatching(/^limits\.maxBufferedTotal: 8388608 bytes is less than limits\.maxBufferedBody \(10485760 bytes\)/)])
    // Against the default body limit too, with the file position of its value.
    expect(() => parse('limits:\n  maxBufferedTotal: 1MiB\n')).toThrow(`${file}:3:21: limits.maxBufferedTotal: 1048576 bytes is less than limits.maxBufferedBody`)
  })
})
