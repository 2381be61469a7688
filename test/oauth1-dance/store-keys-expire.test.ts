/**
 * What strangers and callers can make the gateway write to its store (a shared Redis, a SQLite
 * file) never grows it for ever: after a bounded flood through the real gateway (anonymous and known callers' bearers
 * with jtis, credentialed dance starts, links opened, a failing call's link, wrong admin tokens,
 * a finished dance and a revoke, console sign-ins and sign-outs), every key under the test's
 * own prefix (or in its own file) is one docs/store.md's key table lists, and each carries a
 * TTL (Redis PTTL, SQLite expires_at) unless the table says `none` (known users' stored tokens, which a revoke deletes, and the console's one
 * session key per seal key).
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { adminRequest } from '../support/admin-request.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { ADMIN, ADMIN_TOKEN, authorizeLink, finishInBrowser, gatewayYaml, startInBrowser } from './dance-support.js'
import { AUD, botJwt, useDanceProvider } from './dance-gateway.js'

const SECRET = 'store-keys-expire-hs256-secret-32-bytes'
const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  anonymousTtl: 10m\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]`
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const fx = useDanceProvider()
const prefix = uniqueRedisPrefix()
const CONSOLE_TOKEN = 'store-keys-expire-console-token-0123'
const running: OpsGateway[] = []

afterAll(async () => {
  for (const g of running.splice(0)) await g.gw.close()
  await wipeRedisPrefix(prefix)
})

type StoredKey = { key: string; expires: boolean }

/** Each key under the test's Redis prefix (the prefix removed) and whether it has a TTL. */
async function redisKeys(): Promise<StoredKey[]> {
  const raw = new Redis(REDIS_URL)
  try {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      keys.push(...batch)
      cursor = next
    } while (cursor !== '0')
    return await Promise.all(keys.map(async (k) => ({ key: k.slice(prefix.length), expires: (await raw.pttl(k)) > 0 })))
  } finally {
    raw.disconnect()
  }
}

/** Each row of a SQLite store file and whether it has an expiry. */
function sqliteKeys(file: string): StoredKey[] {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare('SELECT key, expires_at FROM store_entries').all() as { key: string; expires_at: number | null }[]).map((r) => ({ key: r.key, expires: r.expires_at !== null }))
  } finally {
    db.close()
  }
}

const sqliteFile = (): string => join(fx.pki.dir, 'keys-expire.db')
const STORES = [
  { name: 'Redis', store: () => ({ kind: 'redis' as const, url: REDIS_URL, keyPrefix: prefix }), keys: redisKeys },
  { name: 'SQLite', store: () => ({ kind: 'sqlite' as const, file: sqliteFile() }), keys: async () => sqliteKeys(sqliteFile()) },
]

/** docs/store.md's key table: each row's literal key prefix (up to its first placeholder) and TTL column. */
function documentedKeys(): { prefix: string; ttl: string }[] {
  const text = readFileSync(join(ROOT, 'docs/store.md'), 'utf8')
  const table = text.slice(text.indexOf('## Key layout'))
  return [...table.matchAll(/^\| `([^`]+)`[^\n]*\| ([^|\n]+) \|$/gm)].map((m) => ({ prefix: (m[1] as string).split('<')[0] as string, ttl: (m[2] as string).trim() }))
}

describe.each(STORES)('on $name', ({ store, keys: storedKeys }) => {
  it('after a flood, every key is a documented one and carries a TTL unless documented as none', async () => {
    const yaml = gatewayYaml({ pki: fx.pki, provider: fx.provider, store: store(), callers: CALLERS })
    const g = await startOpsGateway(fx.pki.dir, yaml.replace('admin:\n  enabled: false\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: "${CONSOLE_TOKEN}"\n`))
    running.push(g)
    const url = g.gw.url
    const exchange = async (claims: Record<string, unknown>): Promise<void> => {
      const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await botJwt(SECRET, claims) }) })
      expect(r.status, r.text).toBe(200)
    }
    for (let i = 0; i < 8; i++) await exchange({ sub: `anon-${randomUUID()}`, isAnonymous: true, jti: randomUUID() })
    for (let i = 0; i < 4; i++) await exchange({ sub: `known-${i}`, jti: randomUUID() })
    // Credentialed starts: one-time links; half of them opened (a pending request each).
    for (let i = 0; i < 6; i++) {
      const link = await authorizeLink(url, `user=u${i}`)
      if (i % 2 === 0) await startInBrowser(link, { provider: fx.provider, gateway: url })
    }
    // A call for a user without a token: 401 with a link (and the pointer that hands it out again).
    const miss = await send(url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'nobody-yet' } })
    expect(miss.status, miss.text).toBe(401)
    // Wrong admin tokens: the throttle's counter.
    for (let i = 0; i < 3; i++) expect((await send(url, '/gateway/oauth1/partner/authorize?user=x&app=&format=json', { headers: { authorization: `Bearer wrong-admin-token-${i}-long-enough` } })).status).toBe(401)
    // A finished dance (a known user's token) and its revoke (the revoke's mark).
    const done = await finishInBrowser(await startInBrowser(await authorizeLink(url, 'user=kept'), { provider: fx.provider, gateway: url }), { provider: fx.provider, gateway: url })
    expect(done.done.status, done.done.text).toBe(200)
    await finishInBrowser(await startInBrowser(await authorizeLink(url, 'user=gone'), { provider: fx.provider, gateway: url }), { provider: fx.provider, gateway: url })
    expect((await send(url, '/gateway/oauth1/partner/tokens/gone?app=', { method: 'DELETE', headers: ADMIN })).status).toBeLessThan(300)

    // Console sessions: signed in, and two of them signed out again (each sign-out is remembered until the session's end).
    const consoleUrl = `${g.adminUrl}/console/`
    const origin = new URL(consoleUrl).origin
    for (let i = 0; i < 3; i++) {
      const login = await adminRequest(`${consoleUrl}api/login`, { method: 'POST', origin, body: { token: CONSOLE_TOKEN } })
      expect(login.status, login.text).toBe(200)
      const set = login.headers['set-cookie']
      const cookie = (Array.isArray(set) ? set[0] ?? '' : set ?? '').split(';')[0] as string
      if (i === 0) continue
      const out = await adminRequest(`${consoleUrl}api/logout`, { method: 'POST', cookie, origin, csrf: (JSON.parse(login.text) as { csrf: string }).csrf, body: {} })
      expect(out.status, out.text).toBe(200)
    }

    const documented = documentedKeys()
    const rows = (await storedKeys()).map(({ key, expires }) => {
      const row = documented.filter((d) => key.startsWith(d.prefix)).sort((x, y) => y.prefix.length - x.prefix.length)[0]
      return { key: key.replace(/[^:]+$/, '…'), documentedTtl: row?.ttl ?? 'undocumented', expires }
    })
    const kinds = new Set(rows.map((r) => r.key.split(':').slice(0, 2).join(':')))
    // The flood reached every kind of key it meant to.
    for (const kind of ['bearer:…', 'jti:bot', 'oauth1:link', 'oauth1:request', 'oauth1:link-of', 'throttle:oauth1-admin', 'oauth1:token', 'oauth1:revoked', 'console:session']) expect([...kinds].some((k) => k.startsWith(kind.replace(':…', ''))), kind).toBe(true)
    expect(rows.filter((r) => r.documentedTtl === 'undocumented')).toEqual([])
    expect(rows.filter((r) => r.expires !== !r.documentedTtl.startsWith('none'))).toEqual([])
    // Kept without a TTL: the known user's token (the revoked one's is gone) and the console's one session key.
    expect(rows.filter((r) => !r.expires).map((r) => r.key).sort()).toEqual(['console:session:key:sealed:…', 'oauth1:token:/kept:partner:'])
  }, 120_000)
})
