/**
 * The console's draft validator shows `check`'s warnings too, in check's words and at their lines:
 * a duration written as a small bare number (`connect: 5` is 5 ms, almost always `5s` meant) is a
 * warning, never a problem, so the draft stays valid. Before, the draft said nothing of it.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const yaml = (connect: string): string =>
  `admin: { enabled: false }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    timeouts:\n      connect: ${connect}\n    tls: ${clientTlsYaml(pki)}\n`

describe('the draft validator shows check\'s warnings', () => {
  it('a unitless small duration: the same line as check\'s, at its line and column, the draft still valid', () => {
    const file = join(pki.dir, 'gateway.yaml')
    writeFileSync(file, yaml('5s'))
    const current = loadConfig(file)
    expect(validateDraft(file, yaml('5s'), current, restartBaseline(current))).toMatchObject({ ok: true, problems: [], warnings: [] })
    writeFileSync(file, yaml('5'))
    const check = runCheck(file)
    const draft = validateDraft(file, yaml('5'), current, restartBaseline(current))
    const line = `${file}:6:16: endpoints[0].timeouts.connect: warning: 5 is 5 milliseconds (a number without a unit is milliseconds): write 5s if seconds were meant, or 5ms to keep 5 milliseconds`
    expect(check.ok).toBe(true)
    expect(check.output.split('\n').filter((l) => l.startsWith(file))).toEqual([line])
    expect(draft.ok).toBe(true)
    expect(draft.problems).toEqual([])
    expect(draft.warnings?.map((w) => w.text)).toEqual([line])
    expect(draft.warnings?.map((w) => [w.line, w.column, w.inDraft])).toEqual([[6, 16, true]])
  })
})
