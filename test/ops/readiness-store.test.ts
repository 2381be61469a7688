import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import { adminRequest, apiSession, CONSOLE_TOKEN } from '../console/console-support.js'
import { startRedisServer } from '../support/redis-server.js'
import { eventually, get, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

// /readyz and store_up against a store that is really gone, not an injected fake probe:
// a Redis server we start and stop, and a SQLite file replaced by a directory (the tests run
// as root, so chmod 000 would not stop the gateway from opening it).
let pki: TestPki
let endpoints: string

beforeAll(async () => {
  pki = await createTestPki()
  const tls = clientTls(pki)
  // Callers make the gateway open its store (a config without them never touches one).
  endpoints = `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n` +
    `endpoints:\n${endpointYaml('partner', 9, tls)}`
})
afterAll(() => pki?.cleanup())
/**
 * With Redis away each store call waits out store.redis.commandTimeout (3 s by default): the token
 * call, and the console overview's three reads (metrics, readiness, store status). How long it is
 * is not what the first two cases hold; it must exceed acknowledgeTimeout (1 s).
 */
const COMMAND_TIMEOUT = 'commandTimeout: 1500ms'

const ready = async (g: OpsGateway): Promise<{ status: number; body: { status: string; reasons?: string[]; notes?: string[] } }> => {
  const r = await get(`${g.adminUrl}/readyz`)
  return { status: r.status, body: JSON.parse(r.text) as { status: string; reasons?: string[]; notes?: string[] } }
}
/** An assertion of the configured app, with a jti (so the token route must ask the store about replays). */
const callerJwt = (): Promise<string> => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: 'https://gateway.test', sub: 'u1', iat: now, exp: now + 300, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('s'.repeat(32)))
}
const storeUp = async (g: OpsGateway): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')

describe('readiness with a real store down', () => {
  it('Redis stopped, store.redis.gateReadiness true: /readyz 503 naming the store, store_up 0', async () => {
    const redis = await startRedisServer()
    const g = await startOpsGateway(pki.dir, `store: { kind: redis, url: "${redis.url}", keyPrefix: "readiness:", redis: { ${COMMAND_TIMEOUT}, gateReadiness: true } }\n${endpoints}`, { watch: false })
    try {
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready' } })
      expect(await storeUp(g)).toBe(1)
      await redis.stop()
      const down = await eventually(async () => {
        const r = await ready(g)
        return r.body.reasons?.some((why) => why.includes('ECONNREFUSED')) && r
      }, 30_000, '/readyz to report the stopped Redis')
      expect(down).toEqual({ status: 503, body: { status: 'not_ready', reasons: [`store: redis store ${redis.url} is unreachable (connect ECONNREFUSED ${redis.url.slice('redis://'.length)}): ping failed`] } })
      expect(await storeUp(g)).toBe(0)
      // A caller (no credentials needed on the token route) is told the store is away, not where it is;
      // the access line keeps the address for the operator.
      const before = g.access().length
      const r = await fetch(`${g.gw.url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await callerJwt() }) })
      const text = await r.text()
      expect([r.status, JSON.parse(text)]).toEqual([503, { errors: [{ msg: "the gateway's store is not answering: try again shortly (the gateway's log says why)", code: 503 }] }])
      expect(text).not.toContain(redis.url.slice('redis://'.length))
      const line = await eventually(() => g.access().slice(before).find((e) => e.status === 503), 10_000, 'the 503\'s access line')
      expect(line).toMatchObject({ reason: 'store_unavailable', error: expect.stringContaining(`redis store ${redis.url} is unreachable`) })
    } finally {
      await g.gw.close()
      await redis.stop()
    }
  })

  it('Redis stopped, by default: /readyz stays 200 and names the store under notes, store_up 0; gateReadiness reloads both ways', async () => {
    const redis = await startRedisServer()
    const config = (gate: boolean): string => `admin: { token: "${CONSOLE_TOKEN}" }\nstore: { kind: redis, url: "${redis.url}", keyPrefix: "readiness:", redis: { ${COMMAND_TIMEOUT}${gate ? ', gateReadiness: true' : ''} } }\n${endpoints}`
    const g = await startOpsGateway(pki.dir, config(false))
    const file = join(pki.dir, 'gateway.yaml')
    try {
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready' } })
      // Signed in while the store answers: the console keeps the session key it read through the outage.
      const consoleUrl = `${g.adminUrl}/console/`
      const session = await apiSession(consoleUrl)
      await redis.stop()
      const why = `store: redis store ${redis.url} is unreachable (connect ECONNREFUSED ${redis.url.slice('redis://'.length)}): ping failed`
      const noted = await eventually(async () => {
        const r = await ready(g)
        return r.body.notes?.some((n) => n.includes('ECONNREFUSED')) && r
      }, 30_000, '/readyz to note the stopped Redis')
      // Every pod shares this Redis: a 503 here would empty the Service, calls that need no store included.
      expect(noted).toEqual({ status: 200, body: { status: 'ready', notes: [why] } })
      expect(await storeUp(g)).toBe(0)
      // The console's overview says the same: ready, with the note.
      const overview = JSON.parse((await adminRequest(`${consoleUrl}api/overview`, { cookie: session.cookie })).text) as { ready: boolean; readyNotes: string[] }
      // (Its own probe's words vary with the client's reconnect backoff, as below.)
      expect(overview).toMatchObject({ ready: true, readyNotes: [expect.stringMatching(/^store: /)] })
      // As a fresh start with the file would: a reload turning the gate on makes the same outage a 503, and back.
      let before = g.gw.ref.current
      replaceFile(file, config(true))
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload to gateReadiness: true')
      // (The ping's words vary with the client's reconnect backoff: refused, or no answer in time.)
      expect(await ready(g)).toEqual({ status: 503, body: { status: 'not_ready', reasons: [expect.stringMatching(/^store: /)] } })
      before = g.gw.ref.current
      replaceFile(file, config(false))
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload back to the default')
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready', notes: [expect.stringMatching(/^store: /)] } })
    } finally {
      await g.gw.close()
      await redis.stop()
    }
  })

  it('--workers 2, Redis stopped, by default: the primary\'s /readyz stays 200 with each worker\'s note', async () => {
    const redis = await startRedisServer()
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nstore: { kind: redis, url: "${redis.url}", keyPrefix: "readiness-w:" }\n${endpoints}`)
    const gp = await spawnGateway(file, ['--workers', '2'])
    try {
      const admin = await adminUrlOf(gp)
      const readyz = async (): Promise<{ status: number; body: { status: string; notes?: string[] } }> => {
        const r = await get(`${admin}/readyz`)
        return { status: r.status, body: JSON.parse(r.text) as { status: string; notes?: string[] } }
      }
      await eventually(async () => (await readyz()).status === 200, 30_000, 'both workers ready')
      await redis.stop()
      const noted = await eventually(async () => {
        const r = await readyz()
        return r.body.notes?.length === 2 && r
      }, 30_000, 'a note from each worker')
      expect(noted.status).toBe(200)
      expect(noted.body.status).toBe('ready')
      const pids = new Set(noted.body.notes?.map((n) => /^worker (\d+): store: /.exec(n)?.[1]))
      expect(pids.size).toBe(2)
      expect(pids.has(undefined)).toBe(false)
    } finally {
      await gp.stop('SIGKILL')
      await redis.stop()
    }
  }, 120_000)

  it('SQLite file replaced by a directory: /readyz 503 naming the file, store_up 0', async () => {
    const file = join(pki.dir, 'state', 'gateway.db')
    const g = await startOpsGateway(pki.dir, `store: { kind: sqlite, file: ${file} }\n${endpoints}`, { watch: false })
    try {
      expect(await ready(g)).toEqual({ status: 200, body: { status: 'ready' } })
      expect(await storeUp(g)).toBe(1)
      renameSync(file, `${file}.moved`)
      mkdirSync(file)
      const r = await ready(g)
      expect(r.status).toBe(503)
      expect(r.body).toEqual({ status: 'not_ready', reasons: [expect.stringMatching(new RegExp(`^store: sqlite store "${file}": ping failed: `))] })
      expect(await storeUp(g)).toBe(0)
    } finally {
      await g.gw.close()
    }
  })
})
