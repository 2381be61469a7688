/**
 * Users' tokens across gateway restarts and a sealing-key rotation (SQLite): a token
 * stored under key k1 is still used after k2 becomes the active key, and that use seals it
 * again under k2, so it keeps working once k1 is removed. A token under k1 nobody read since
 * (and no `store reseal` renewed) then gets its user the 401 with a fresh authorize link (a clear
 * message, never garbage), while tokens sealed under k2 keep working.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { eventually } from '../support/eventually.js'
import { authorizeUser, gatewayYaml, newSealKey, rawValues, startDanceProvider, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let dir: string
const k1 = { id: 'k1', key: newSealKey() }
const k2 = { id: 'k2', key: newSealKey() }

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-rotation-'))
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

async function withGateway<T>(sealKeys: { id: string; key: string }[], run: (gw: RunningGateway) => Promise<T>): Promise<T> {
  const gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, sealKeys, activeKey: sealKeys.at(-1)!.id }))
  try {
    return await run(gw)
  } finally {
    await gw.close()
  }
}

async function authorize(gw: RunningGateway, user: string): Promise<void> {
  const { done } = await authorizeUser(gw.url, provider, `user=${user}`)
  expect(done.status, done.text).toBe(200)
}

const call = (gw: RunningGateway, user: string): ReturnType<typeof send> => send(gw.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': user } })

describe('tokens across restarts and key rotation', () => {
  it('old rows are read after rotation and sealed again by that read; rows left under a removed key ask the user to authorize again', async () => {
    await withGateway([k1], async (gw) => {
      await authorize(gw, 'uma')
      await authorize(gw, 'wes')
    })
    await withGateway([k1, k2], async (gw) => {
      expect((await call(gw, 'uma')).status).toBe(200)
      const umaValue = async (): Promise<string | undefined> => (await rawValues(gw.runtime.store!)).find((r) => r.key === 'oauth1:token:/uma:partner:')?.value
      await eventually(async () => (await umaValue())?.includes('"tokenSecret":"v1.k2.'), 15_000, "uma's token sealed again under k2")
      await authorize(gw, 'vic')
      const vic = (await rawValues(gw.runtime.store!)).find((r) => r.key === 'oauth1:token:/vic:partner:')
      expect(vic?.value).toContain('"tokenSecret":"v1.k2.')
    })
    await withGateway([k2], async (gw) => {
      expect((await call(gw, 'vic')).status).toBe(200)
      expect((await call(gw, 'uma')).status).toBe(200)
      const wes = await call(gw, 'wes')
      expect(wes.status).toBe(401)
      const entry = wes.json<{ errors: { msg: string; authorizeUrl: string }[] }>().errors[0]
      expect(entry?.msg).toContain('cannot be opened')
      expect(entry?.msg).toContain('"k1"')
      expect(entry?.authorizeUrl).toContain('/gateway/oauth1/partner/authorize?link=')
    })
  })
})
