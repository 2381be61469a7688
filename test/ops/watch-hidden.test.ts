/**
 * A directory the watcher cannot watch is reported without the config's referenced values: a
 * private key given where a path belongs makes a "path" whose directory (dirname) is most of
 * the key, and a refused reload watches the files the refused config names. Property over
 * generated key texts: no piece of the value reaches the report, whichever way the files arrive.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { watchFiles } from '../../src/ops/index.js'

const dir = mkdtempSync(join(tmpdir(), 'watch-hidden-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const pieces = (v: string): string[] => v.split(/[/\s]+/).filter((p) => p.length >= 8)

describe('watch errors never show a hidden value', () => {
  it('names the directory with the value masked, and the error by its code (500 runs)', () => {
    const run = fc.base64String({ minLength: 8, maxLength: 48 }).map((b) => b.replace(/[/=]/g, 'Q'))
    const keyText = fc.array(run, { minLength: 2, maxLength: 6 }).map((parts) => `-----BEGIN PRIVATE KEY-----\n${parts.join('/')}\n-----END PRIVATE KEY-----`)
    let reports = 0
    fc.assert(
      fc.property(keyText, fc.constantFrom('start', 'set', 'add'), (value, how) => {
        const file = join(dir, value)
        const seen: string[] = []
        const onError = (d: string, code: string): void => void seen.push(`${d} ${code}`)
        const w = watchFiles({ files: how === 'start' ? [file] : [], ...(how === 'start' ? { hide: [value] } : {}), onChange: () => {}, onError })
        if (how === 'set') w.setFiles([file], [value])
        if (how === 'add') w.addFiles([file], [value])
        w.close()
        expect(seen.length).toBeGreaterThan(0)
        for (const text of seen) for (const piece of pieces(value)) expect(text.includes(piece), `${piece} in ${text}`).toBe(false)
        reports += seen.length
      }),
      { seed: 0x3a7c4, numRuns: 500 },
    )
    expect(reports).toBeGreaterThanOrEqual(500)
  })
})
