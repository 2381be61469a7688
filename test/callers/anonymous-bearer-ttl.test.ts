/**
 * An anonymous user's bearer is anonymous user data: its store record (and its sealed JWE
 * claims) lives no longer than callers.anonymousTtl, even under a longer callers.bearerTtl, and
 * its expires_in says so. A known user's bearer keeps the full bearerTtl. Through the real
 * gateway, reading the expiry from its SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/serve.js'
import { ADMIN_TOKEN, gatewayYaml, startDanceProvider, type DanceProvider } from '../oauth1-dance/dance-support.js'

const AUD = 'https://gateway.test'
const SECRET = 'anon-bearer-ttl-hs256-secret-of-32-bytes!'
let pki: TestPki
let provider: DanceProvider
let dir: string
let gw: RunningGateway

const jwt = (claims: Record<string, unknown>): Promise<string> => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, iat: now, exp: now + 300, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
}

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'anon-bearer-ttl-'))
  const callers = `callers:\n  bearerTtl: 1h\n  anonymousTtl: 2m\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }`
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers }))
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Milliseconds until each bearer record in the SQLite file expires. */
function bearerExpiries(): number[] {
  const db = new Database(join(dir, 'state.db'), { readonly: true })
  try {
    const rows = db.prepare("SELECT expires_at FROM store_entries WHERE key LIKE 'bearer:%'").all() as { expires_at: number | null }[]
    return rows.map((r) => (r.expires_at === null ? Infinity : r.expires_at - Date.now()))
  } finally {
    db.close()
  }
}

describe('bearer lifetime of anonymous users', () => {
  it('an anonymous user\'s bearer lives at most anonymousTtl; a known user\'s the full bearerTtl', async () => {
    const exchange = async (claims: Record<string, unknown>): Promise<number> => {
      const r = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt(claims) }) })
      expect(r.status, r.text).toBe(200)
      return r.json<{ expires_in: number }>().expires_in
    }
    expect(await exchange({ sub: 'anon-1', isAnonymous: true })).toBe(120)
    const anon = bearerExpiries()
    expect(anon).toHaveLength(1)
    expect(anon[0]).toBeLessThanOrEqual(120_000)
    expect(await exchange({ sub: 'known-1' })).toBe(3600)
    expect(Math.max(...bearerExpiries())).toBeGreaterThan(3_000_000)
  })
})
