/**
 * An anonymous user's bearer is anonymous user data: its store record (and its sealed JWE
 * claims) lives no longer than callers.anonymousTtl, even under a longer callers.bearerTtl, and
 * its expires_in says so. A known user's bearer keeps the full bearerTtl. Through the real
 * gateway, reading the expiry from its SQLite file.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { AUD, botJwt, useDanceGateway } from '../oauth1-dance/dance-gateway.js'
import { ADMIN_TOKEN } from '../oauth1-dance/dance-support.js'

const SECRET = 'anon-bearer-ttl-hs256-secret-of-32-bytes!'
const jwt = (claims: Record<string, unknown>): Promise<string> => botJwt(SECRET, claims)
const d = useDanceGateway({
  prefix: 'anon-bearer-ttl-',
  callers: `callers:\n  bearerTtl: 1h\n  anonymousTtl: 2m\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }`,
})

/** Milliseconds until each bearer record in the SQLite file expires. */
function bearerExpiries(): number[] {
  const db = new Database(join(d.dir, 'state.db'), { readonly: true })
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
      const r = await send(d.gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt(claims) }) })
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
