/**
 * Durability with SQLite at the gateway level: a token the gateway acknowledged (the
 * callback's success page) survives `kill -9` of the gateway process; a new process on the
 * same file signs the user's calls with it, and the file passes SQLite's integrity check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { authorizeUser, gatewayYaml, startDanceProvider, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let dir: string
let file: string
const procs: GatewayProcess[] = []

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-kill9-'))
  file = join(dir, 'gateway.yaml')
  writeFileSync(file, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }))
})

afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL')
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('kill -9 of the gateway with the SQLite store', () => {
  it('keeps every acknowledged token, and the file stays sound', async () => {
    const first = await spawnGateway(file, ['--workers', '1'])
    procs.push(first)
    const users = ['u1', 'u2', 'u3']
    for (const user of users) {
      const { done } = await authorizeUser(first.url, provider, `user=${user}`)
      expect(done.text).toContain('Authorization complete')
    }
    const tokens = await Promise.all(users.map(async (u) => (await send(first.url, '/proxy/partner/resource/x', { headers: { 'x-gateway-user': u } })).json<{ token: string }>().token))
    expect(await first.stop('SIGKILL')).toBe(null)

    const db = new Database(join(dir, 'state.db'), { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()

    const second = await spawnGateway(file, ['--workers', '1'])
    procs.push(second)
    for (const [i, u] of users.entries()) {
      const r = await send(second.url, '/proxy/partner/resource/x', { headers: { 'x-gateway-user': u } })
      expect(r.status, r.text).toBe(200)
      expect(r.json<{ token: string }>().token).toBe(tokens[i])
    }
  })
})
