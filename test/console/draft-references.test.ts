/**
 * The console's draft validator cannot be used to read a variable or a file: nothing in its
 * answer shows a `${env:}`/`${file:}` value, also where the draft uses one as an endpoint's name
 * (which the reload summary lists as added or changed). Property over generated values that are
 * valid endpoint names (a lower-case hex token is one).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'

const dir = mkdtempSync(join(tmpdir(), 'draft-refs-'))
const file = join(dir, 'gateway.yaml')
const VAR = 'MTLSGW_TEST_DRAFT_SECRET'
afterAll(() => {
  delete process.env[VAR]
  rmSync(dir, { recursive: true, force: true })
})

const current = parseConfig(file, 'admin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://a.example\n    tls: { dir: /nonexistent }\n')
const draftNaming = (ref: string): string => `admin: { enabled: false }\nendpoints:\n  - name: "${ref}"\n    url: https://a.example\n    tls: { dir: /nonexistent }\n`

describe('the draft validator shows no referenced value', () => {
  it('an endpoint named by ${env:} or ${file:} is listed by its reference (300 runs)', () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{5,40}$/)
    let listed = 0
    fc.assert(
      fc.property(name, fc.boolean(), (value, viaFile) => {
        process.env[VAR] = value
        writeFileSync(join(dir, 'name.txt'), value)
        const ref = viaFile ? '${file:name.txt}' : `\${env:${VAR}}`
        const answer = JSON.stringify(validateDraft(file, draftNaming(ref), current, restartBaseline(current)))
        expect(answer.includes(value), answer).toBe(false)
        if (answer.includes(ref)) listed++
      }),
      { seed: 0xd4af7, numRuns: 300 },
    )
    expect(listed).toBe(300)
  })
})
