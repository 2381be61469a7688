/**
 * A hurried edit of a running gateway's config is refused on reload in the words `check` uses,
 * at the line to fix, and keeps the last good config: a key written twice, a typo of a key, a
 * private key pasted inline where its path belongs (before: the key was logged in full, as the
 * name of a file that could not be read).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { privateKeyPem } from '../../src/tls/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { eventually, RELOAD_REFUSED, replaceFile, startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let g: OpsGateway
let good = ''

beforeAll(async () => {
  pki = await createTestPki()
  good = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls:\n      cert: ${pki.file('client.crt')}\n      key: ${pki.file('client.key')}\n      intermediates: ${pki.file('inter.crt')}\n      roots: ${pki.file('root.crt')}\n`
  g = await startOpsGateway(pki.dir, good)
})
afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

/** The problems of the first refused reload logged at line `from` or later. */
function refusedReload(from: number): string[] | undefined {
  return g.lines.slice(from).map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).find((e) => e.msg === RELOAD_REFUSED)?.problems
}

describe('reload: an operator mistake is refused at its line, in check\'s words, never showing a key', () => {
  it('a key written twice, a typo of a key, a private key pasted where its path belongs', async () => {
    const config = join(pki.dir, 'gateway.yaml')
    const keyPem = privateKeyPem(pki.client).trim()
    const inline = good.replace(`      key: ${pki.file('client.key')}\n`, `      key: |\n${keyPem.split('\n').map((l) => `        ${l}`).join('\n')}\n`)
    const cases = [
      { text: `${good}    name: again\n`, problem: `${config}:9:5: endpoints[0].name: YAML: duplicate key "name" (first at line 2): keep one` },
      { text: good.replace('    tls:\n', '    alowPrivate: true\n    tls:\n'), problem: `${config}:4:5: endpoints[0].alowPrivate: unknown key (did you mean allowPrivate?)` },
      { text: inline, problem: `${config}:6:12: endpoints[0].tls.key: is PEM text, not a file path: write the PEM to a file and give that file's path (not \${file:…}, which reads the file's text)` },
    ]
    for (const c of cases) {
      const last = g.gw.ref.current
      const from = g.lines.length
      replaceFile(config, c.text)
      const problems = await eventually(() => refusedReload(from), 20_000, `the reload refusing: ${c.problem}`)
      expect(problems).toEqual([c.problem])
      expect(g.gw.ref.current).toBe(last)
      const check = runCheck(config)
      expect(check.output).toBe(`${c.problem}\ncheck failed: 1 problem(s)\n`)
      const keyBody = keyPem.split('\n')[1] ?? ''
      expect(keyBody.length).toBeGreaterThan(20)
      expect(g.lines.slice(from).join('\n') + check.output).not.toContain(keyBody)
      replaceFile(config, good)
      await eventually(() => g.gw.ref.current !== last, 20_000, 'the reload after the good config is put back')
    }
    expect(readFileSync(config, 'utf8')).toBe(good)
  }, 120_000)
})
