/**
 * A dance in flight when a reload retires the seal key its records were sealed under: the
 * authorize link the user has not opened yet, and the pending request of a user at the provider.
 * Both are as good as expired (like a user's token under a retired key): the browser gets the
 * dance's HTML failure page (400, ask for a new link), never the JSON 500 of an internal error,
 * and the pending request is used up, the provider never asked for an access token.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { startOpsGateway } from '../ops/helpers.js'
import { authorizeLink, cookieFor, gatewayYaml, newSealKey, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

const k1 = { id: 'k1', key: newSealKey() }
const k2 = { id: 'k2', key: newSealKey() }

let pki: TestPki
let provider: DanceProvider
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-seal-retired-'))
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const yaml = (keys: { id: string; key: string }[]): string =>
  gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'g.db') }, sealKeys: keys, activeKey: (keys.at(-1) as { id: string }).id }).replace('admin:\n  enabled: false\n', '')

describe('a dance across a reload that retires its seal key', () => {
  it('the callback and the unopened link get the failure page, the dance used up', async () => {
    const g = await startOpsGateway(dir, yaml([k1]), { watch: false })
    try {
      const started = await startInBrowser(await authorizeLink(g.gw.url, 'user=alice'), { provider })
      const unopened = await authorizeLink(g.gw.url, 'user=bob')
      writeFileSync(join(dir, 'gateway.yaml'), yaml([k2]))
      const before = g.gw.ref.current
      const result = await g.gw.ops?.reload('test')
      expect(g.gw.ref.current, JSON.stringify(result)).not.toBe(before)
      const callbackUrl = await provider.decide(started.requestToken, 'approve')
      const back = (): ReturnType<typeof send> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      const done = await back()
      expect([done.status, String(done.headers['content-type'])], done.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(done.text).toContain('data-result="failure"')
      expect(done.text).toContain('Ask for a new authorization link')
      expect((await back()).text).toContain('unknown, expired or already completed')
      expect((await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token')).toEqual([])
      const page = await send(g.gw.url, pathOf(unopened))
      expect([page.status, String(page.headers['content-type'])], page.text).toEqual([400, 'text/html; charset=utf-8'])
      expect(page.text).toContain('This authorization link is unknown, expired or already used.')
    } finally {
      await g.gw.close()
    }
  })
})
