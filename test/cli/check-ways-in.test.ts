/**
 * `check` on listen.waysIn: an unknown way in, an empty list and a repeated one are problems at
 * the key's file:line:column (as at start and on reload: one loader); a list whose every way in
 * serves nothing (only `api` with no caller apps and no profiles, `connect` with no interception)
 * is a warning there, and the default list never warns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { logConfigWarnings } from '../../src/ops/config-warnings.js'

let pki: TestPki
let endpoint: string

beforeAll(async () => {
  pki = await createTestPki()
  const tls = `{ cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }`
  endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: ${tls}\n`
})
afterAll(() => pki?.cleanup())

/** Runs check on `listen` (the YAML after `listen:`, on line 2) over the one endpoint. */
function checkListen(listen: string, rest = ''): { ok: boolean; output: string; file: string } {
  const file = pki.write(`ways-${Math.random().toString(36).slice(2)}.yaml`, `# ways in\nlisten:${listen}\n${rest}${endpoint}`)
  return { ...runCheck(file), file }
}

describe('check: listen.waysIn', () => {
  it.each([
    ['an unknown way in', '\n  waysIn: [route, proxy]', 3, 19, /listen\.waysIn\[1\]: must be one of forward, connect, route, api$/],
    ['an empty list', '\n  waysIn: []', 3, 11, /listen\.waysIn: must NOT have fewer than 1 items$/],
    ['a repeated way in', '\n  waysIn: [route, api, route]', 3, 11, /listen\.waysIn: must NOT have duplicate items \(items ## 2 and 0 are identical\)$/],
  ])('%s is a problem at its file:line:column', (_name, listen, line, column, msg) => {
    const r = checkListen(listen)
    expect(r.ok).toBe(false)
    const problem = r.output.split('\n').find((l) => l.startsWith(`${r.file}:${line}:${column}:`))
    expect(problem, r.output).toBeDefined()
    expect(problem).toMatch(msg)
    // The same problem stops a start and a reload (one loader).
    expect(() => loadConfig(r.file)).toThrow()
  })

  it('a list whose every way in serves nothing is a warning at the key, not a problem', () => {
    const r = checkListen('\n  host: 127.0.0.1\n  waysIn: [api, connect]', 'callers: { required: false }\n')
    expect(r.ok).toBe(true)
    const warning = r.output.split('\n').find((l) => l.includes('warning: listen.waysIn'))
    expect(warning).toBe(
      `${r.file}:4:11: listen.waysIn: warning: listen.waysIn serves nothing useful on this listener (api: no caller apps (callers.apps) and no profiles; connect: no interception (interception.caCert), so every CONNECT is refused): every request is refused; add a way in that serves something`,
    )
  })

  it('the same warning is logged once when a gateway adopts the config (start, each reload)', () => {
    const warned: { fields: unknown; msg: string }[] = []
    const logger = { warn: (fields: unknown, msg: string) => void warned.push({ fields, msg }) } as unknown as Parameters<typeof logConfigWarnings>[0]
    logConfigWarnings(logger, loadConfig(checkListen('\n  host: 127.0.0.1\n  waysIn: [api]', 'callers: { required: false }\n').file))
    expect(warned).toEqual([{ fields: { key: 'listen.waysIn' }, msg: expect.stringMatching(/^listen\.waysIn serves nothing useful on this listener \(api: no caller apps/) }])
  })

  it('no warning when a way in serves something, nor for the default list', () => {
    for (const listen of ['\n  host: 127.0.0.1\n  waysIn: [route]', '\n  host: 127.0.0.1\n  waysIn: [api, route]', '\n  host: 127.0.0.1']) {
      const r = checkListen(listen, 'callers: { required: false }\n')
      expect(r.ok, r.output).toBe(true)
      expect(r.output).not.toContain('warning: listen.waysIn')
    }
    expect(loadConfig(checkListen('\n  host: 127.0.0.1', 'callers: { required: false }\n').file).listen.waysIn).toEqual(['forward', 'connect', 'route', 'api'])
  })
})
