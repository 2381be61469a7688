/**
 * Keeping the caller's number texts must not cost more than the body: each literal a double would
 * change rode as a marker string (about 50 bytes of text and a string object each), so a 10 MiB
 * body of "-0," (3.5 million literals, under the default limits.maxBufferedBody) took some 3 GB and
 * 7 s, and ran a process with a 384 MiB heap out of memory. Markers are now numbers, chosen so no
 * number the caller wrote as it is can be taken for one. Spawns dist/ (run `npx tsc -p .` first).
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { setJsonFields } from '../../src/proxy/steps/json-payload.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIELD = [{ key: 'acct', value: '42' }]

afterEach(() => void vi.restoreAllMocks())

describe('JSON payload fields: number texts kept in bounded memory', () => {
  it('a 10 MiB body of lossy literals is set within a 384 MiB heap, every literal kept', () => {
    const script = `import { setJsonFields } from './dist/src/proxy/steps/json-payload.js'
const n = Math.floor((10 << 20) / 3) - 10
const body = Buffer.from('{"a":[' + Array(n).fill('-0').join(',') + ']}')
const out = setJsonFields(body, [{ key: 'acct', value: '42' }]).toString('latin1')
const ok = out === body.toString('latin1').slice(0, -1) + ',"acct":"42"}'
process.stdout.write(ok ? 'same' : 'different')`
    const out = execFileSync(process.execPath, ['--max-old-space-size=384', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    expect(out).toBe('same')
  }, 130_000)

  it('numbers the caller wrote as they are, in the markers\' range, stay as written beside kept literals', () => {
    // Every 16-digit integer a double holds exactly, near both ends of [2^52, 2^53), with lossy literals around them.
    const exact = ['4503599627370496', '4503599627370497', '9007199254740991', '9007199254740990', '6755399441055744']
    const body = `{"n":[${exact.join(',')}],"lossy":[1.10,-0,1e400,12345678901234567890],"more":${exact[0]}.0,"s":"4503599627370496"}`
    // The first base drawn is 2^52 itself, where the caller's own 4503599627370496 and …497 sit: it must be drawn again.
    vi.spyOn(Math, 'random').mockReturnValueOnce(0)
    expect(setJsonFields(Buffer.from(body), FIELD).toString()).toBe(`${body.slice(0, -1)},"acct":"42"}`)
    for (let round = 0; round < 50; round++) expect(setJsonFields(Buffer.from(body), FIELD).toString()).toBe(`${body.slice(0, -1)},"acct":"42"}`)
  })
})
