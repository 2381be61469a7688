/**
 * The store's location is fixed once a store is open, not at start. A gateway that starts with
 * no caller apps and no per_user profile opens no store: a reload that adds caller apps and
 * moves the store is accepted (a fresh start with that file succeeds), opens the new location
 * and writes there; the old one is never created. From then on the location is restart-only:
 * another change is refused, naming the key, even after the callers are removed again. With
 * `--workers 2` the workers, the primary's verdict (what the console reports) and a
 * replacement worker agree. SQLite and the shared Redis (store.keyPrefix).
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminRequest } from '../support/admin-request.js'
import { flushedBy } from '../support/log-entries.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, get, RELOAD_REFUSED, replaceFile } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const HS = 'store-baseline-hs256-secret-32-bytes!'
const AUD = 'https://gateway.test'
const TOKEN_ENV = 'MTLS_GATEWAY_TEST_STORE_BASELINE_TOKEN'
const TOKEN = 'store-baseline-console-token-7d41'
const RESTART_ONLY = 'changed, and takes effect only after a restart'

let pki: TestPki
let upstream: RunningServer
let dir: string
const prefixes: string[] = []

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = mkdtempSync(join(tmpdir(), 'store-baseline-'))
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
  for (const p of prefixes) await wipeRedisPrefix(p)
})

type Backend = 'sqlite' | 'redis'

/** Where one store lives: a SQLite file, or a key prefix on the shared Redis. */
interface Location {
  yaml: string
  /** The logical keys under `prefix` there; undefined when the SQLite file does not exist. */
  keys(prefix: string): Promise<string[] | undefined>
  /** The key this location's change is named by. */
  key: string
}

function location(backend: Backend, at: string, name: string): Location {
  if (backend === 'sqlite') {
    const file = join(at, `${name}.db`)
    return {
      yaml: `store: { kind: sqlite, file: ${file} }\n`,
      key: 'store.file',
      keys: async (prefix) => {
        if (!existsSync(file)) return undefined
        const db = new Database(file, { readonly: true, fileMustExist: true })
        try {
          return (db.prepare('SELECT key FROM store_entries WHERE key LIKE ?').all(`${prefix}%`) as { key: string }[]).map((r) => r.key)
        } finally {
          db.close()
        }
      },
    }
  }
  const keyPrefix = `${uniqueRedisPrefix()}${name}:`
  prefixes.push(keyPrefix)
  return {
    yaml: `store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${keyPrefix}" }\n`,
    key: 'store.keyPrefix',
    keys: async (prefix) => {
      const s = openStore({ kind: 'redis', url: REDIS_URL, keyPrefix })
      try {
        return await s.keys(prefix)
      } finally {
        await s.close()
      }
    },
  }
}

/** The config: `partner`, and `spares` endpoints never called (the count tells reloads apart: reloadBySignal). */
function yamlOf(store: Location, callers: boolean, spares = 0): string {
  const tls = clientTls(pki)
  const apps = `callers:\n  required: true\n  apps: [{ clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: ["*"] }]\n`
  const spare = Array.from({ length: spares }, (_, i) => endpointYaml(`spare${i}`, upstream.port, tls)).join('')
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0, token: "\${env:${TOKEN_ENV}}" }\n${store.yaml}${callers ? apps : ''}endpoints:\n${endpointYaml('partner', upstream.port, tls)}${spare}`
}

const now = (): number => Math.floor(Date.now() / 1000)
const jwt = (): Promise<string> =>
  new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', iat: now(), exp: now() + 300, jti: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))

/** A signed-in console session: its reads and actions. */
async function consoleSession(adminUrl: string): Promise<{ cookie(): Promise<string>; read<T>(name: string): Promise<T>; act<T>(name: string, body?: unknown): Promise<T> }> {
  const api = `${adminUrl}/console/api/`
  const origin = new URL(adminUrl).origin
  const login = await adminRequest(`${api}login`, { method: 'POST', origin, body: { token: TOKEN } })
  if (login.status !== 200) throw new Error(`console login: ${login.status} ${login.text}`)
  const set = login.headers['set-cookie']
  const cookie = (Array.isArray(set) ? set[0]! : (set ?? '')).split(';')[0] as string
  const csrf = (JSON.parse(login.text) as { csrf: string }).csrf
  return {
    cookie: async () => cookie,
    async read<T>(name: string) {
      const r = await adminRequest(`${api}${name}`, { cookie })
      expect(r.status, r.text).toBe(200)
      return JSON.parse(r.text) as T
    },
    async act<T>(name: string, body: unknown = {}) {
      const r = await adminRequest(`${api}${name}`, { method: 'POST', cookie, origin, csrf, body })
      expect(r.status, r.text).toBe(200)
      return JSON.parse(r.text) as T
    },
  }
}

type ReloadResult = { ok: true; endpoints: number } | { ok: false; problems: string[] }
type Entry = Record<string, unknown>

interface Run {
  gp: GatewayProcess
  admin: string
  config: string
  entries(from?: number): Entry[]
  /** The reloads reloadBySignal made: the file in force has this many spare endpoints. */
  reloads: number
}

async function start(at: string, yaml: string, workers: number): Promise<Run> {
  const config = join(at, 'gateway.yaml')
  replaceFile(config, yaml)
  const gp = await spawnGateway(config, ['--workers', String(workers)], { [TOKEN_ENV]: TOKEN })
  const admin = await adminUrlOf(gp)
  const entries = (from = 0): Entry[] =>
    (gp.logEntries(from) as Entry[])
  return { gp, admin, config, entries, reloads: 0 }
}

/** A bearer from /gateway/token and one call with it; the pid of the worker that served the call. */
async function bearerCall(run: Run, tag: string): Promise<{ token: number; call: number; pid: number | undefined }> {
  const t = await send(run.gp.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt() }) })
  if (t.status !== 200) return { token: t.status, call: 0, pid: undefined }
  const bearer = (JSON.parse(t.text) as { access_token: string }).access_token
  const path = `/proxy/partner/${tag}`
  const r = await send(run.gp.url, path, { headers: { 'proxy-authorization': `Bearer ${bearer}`, 'x-request-id': tag } })
  const line = await eventually(() => run.entries().find((e) => e.msg === 'request' && e.reqId === tag), 20_000, `the access line of ${tag}`).catch(() => undefined)
  return { token: t.status, call: r.status, pid: line?.pid as number | undefined }
}

const ACCEPTED = 'config reloaded'
const VERDICT = 'reload accepted by every worker'
/** The endpoint count of the file in force: partner and a spare per reload. */
const inForce = (run: Run): number => 1 + run.reloads

/**
 * Writes the file (one spare endpoint more than the last) and reloads through SIGHUP (the console
 * would open its own store first); waits until each of `pids` took it, and with workers the primary
 * too (its console follows the configs it accepted). Known by the lines' endpoint count: one write
 * and its SIGHUP can make two reloads, the second's lines out after the next write.
 */
async function reloadBySignal(run: Run, store: Location, callers: boolean, pids: readonly number[]): Promise<void> {
  const from = run.gp.output.length
  replaceFile(run.config, yamlOf(store, callers, ++run.reloads))
  run.gp.child.kill('SIGHUP')
  const primary = run.gp.child.pid as number
  const endpoints = inForce(run)
  await eventually(() => {
    const took = run.entries(from).filter((e) => e.endpoints === endpoints)
    const seen = new Set(took.filter((e) => e.msg === ACCEPTED).map((e) => e.pid as number))
    return pids.every((p) => seen.has(p)) && (pids.includes(primary) || took.some((e) => e.msg === VERDICT && e.pid === primary))
  }, 60_000, `the file with ${endpoints} endpoints in force in ${pids.join(', ')}`)
}

/** Sends bearer calls until `pid` served one; every token and call must succeed. */
async function servedBy(run: Run, pid: number, tag: string): Promise<number> {
  let n = 0
  for (let i = 0; i < 40; i++) {
    // The cluster hands connections out in turn, and a bearer call takes two: shift the turn now and then.
    if (i % 3 === 1) await send(run.gp.url, '/proxy/partner/turn')
    const r = await bearerCall(run, `${tag}-${i}`)
    n++
    expect([r.token, r.call]).toEqual([200, 200])
    if (r.pid === pid) return n
  }
  throw new Error(`worker ${pid} served none of 40 calls`)
}

/** Waits until a replacement of `victim` (killed here) listens and the instance is ready; its pid. */
async function replace(run: Run, victim: number): Promise<number> {
  const from = run.gp.output.length
  sendSignal(victim, 'SIGKILL', run.gp.child.pid)
  const line = await eventually(() => run.entries(from).find((e) => e.msg === 'replacement worker listening'), 120_000, 'a replacement worker listening')
  await eventually(async () => (await get(`${run.admin}/readyz`)).status === 200, 60_000, 'readiness after the replacement')
  return line.worker as number
}

async function scenario(backend: Backend, workers: number): Promise<void> {
  const at = mkdtempSync(join(dir, `${backend}-${workers}-`))
  const [a, b, c] = [location(backend, at, 'a'), location(backend, at, 'b'), location(backend, at, 'c')]
  // No caller apps, no per_user profile: no store is opened at A.
  const run = await start(at, yamlOf(a, false), workers)
  try {
    // The processes that serve: the single process, or each worker (a primary does not serve).
    let pids = workers === 1 ? [run.gp.child.pid as number] : await firstPids(run, workers)
    // Caller apps added and the store moved: a fresh start with this file succeeds, so the reload does.
    await reloadBySignal(run, b, true, pids)
    expect(run.entries().filter((e) => e.msg === RELOAD_REFUSED)).toEqual([])
    const s = await consoleSession(run.admin)
    const overview = await s.read<{ lastReload: { result: ReloadResult } | null; store: { kind: string; up?: boolean } }>('overview')
    expect(overview.lastReload?.result).toMatchObject({ ok: true })
    expect(overview.store).toEqual({ kind: backend, up: true })
    expect((await get(`${run.admin}/readyz`)).status).toBe(200)
    // Bearers are issued and checked on every worker, and land in B.
    let calls = 0
    for (const pid of pids) calls += await servedBy(run, pid, `b-${pid}`)
    expect((await b.keys('bearer:'))?.length).toBe(calls)
    expect((await b.keys('jti:'))?.length).toBe(calls)
    expect(await a.keys('')).toEqual(backend === 'sqlite' ? undefined : [])
    // The console judges a draft as the reload will: the location is now fixed.
    const draft = await s.act<{ changes: { restartNeeded: string[] } }>('draft', { yaml: yamlOf(c, true) })
    expect(draft.changes.restartNeeded).toEqual([c.key])
    expect((await s.act<{ changes: { restartNeeded: string[] } }>('draft', { yaml: yamlOf(b, false) })).changes.restartNeeded).toEqual([])

    if (workers > 1) {
      // A replacement serves from B too (a bearer issued by either worker checks on it) and judges alike.
      const replacement = await replace(run, pids[0] as number)
      pids = [replacement, pids[1] as number]
      calls += await servedBy(run, replacement, 'after-replacement')
      expect((await b.keys('bearer:'))?.length).toBe(calls)
    }

    // Another location, callers kept: refused by the verdict the console reports (a primary's is the
    // instance's: it relays nothing it refuses, and logs the refusal once).
    const refusers = workers === 1 ? pids : [run.gp.child.pid as number]
    const refusal = async (yaml: string): Promise<void> => {
      const from = run.gp.output.length
      replaceFile(run.config, yaml)
      const result = await s.act<ReloadResult>('reload')
      expect(result).toEqual({ ok: false, problems: [expect.stringContaining(`${c.key}: ${RESTART_ONLY}`)] })
      await eventually(() => {
        const refused = new Set(run.entries(from).filter((e) => e.msg === RELOAD_REFUSED && JSON.stringify(e.problems).includes(`${c.key}: ${RESTART_ONLY}`)).map((e) => e.pid as number))
        return refusers.every((p) => refused.has(p))
      }, 60_000, 'the instance to refuse the file')
      // No process took it: read after a later line of each that serves (a call's), as each writes in batches.
      // A second reload of the file in force (its write's watcher and SIGHUP) may log here: its count says so.
      await flushedBy(run.gp, pids, (tag) => send(run.gp.url, '/proxy/partner/after-refusal', { headers: { 'x-request-id': tag } }))
      expect(run.entries(from).filter((e) => e.msg === ACCEPTED && e.endpoints !== inForce(run))).toEqual([])
      expect(((await s.read<{ lastReload: { result: ReloadResult } }>('overview')).lastReload.result)).toMatchObject({ ok: false })
    }
    await refusal(yamlOf(c, true))
    // The last good config stays: bearers still work, in B.
    const before = (await b.keys('bearer:'))?.length ?? 0
    const r = await bearerCall(run, 'kept')
    expect([r.token, r.call]).toEqual([200, 200])
    expect((await b.keys('bearer:'))?.length).toBe(before + 1)

    // Callers removed: accepted, and the store stays open at B with its location fixed …
    await reloadBySignal(run, b, false, pids)
    if (workers > 1) {
      // … in a replacement started now too, whose config in force needs no store.
      const second = await replace(run, pids[1] as number)
      pids = [pids[0] as number, second]
    }
    await refusal(yamlOf(c, true))
    expect(await c.keys('')).toEqual(backend === 'sqlite' ? undefined : [])
    expect(await a.keys('')).toEqual(backend === 'sqlite' ? undefined : [])
  } finally {
    await run.gp.stop('SIGKILL')
  }
}

/** With workers: each worker's pid, from calls spread over them (the cluster hands connections round-robin). */
async function firstPids(run: Run, workers: number): Promise<number[]> {
  return eventually(async () => {
    await Promise.all(Array.from({ length: 4 }, (_, i) => send(run.gp.url, `/proxy/partner/warm-${randomUUID()}-${i}`)))
    const pids = [...new Set(run.entries().filter((e) => e.msg === 'request').map((e) => e.pid as number))]
    return pids.length === workers && pids
  }, 60_000, `${workers} workers serving`)
}

describe('the store location is fixed once a store is open, not at start', () => {
  it('one process, SQLite: callers added with store.file moved are accepted and write there; then store.file is restart-only', () => scenario('sqlite', 1), 240_000)
  it('one process, Redis: callers added with store.keyPrefix changed are accepted and write there; then keyPrefix is restart-only', () => scenario('redis', 1), 240_000)
  it('--workers 2, SQLite: the workers, the primary\'s verdict and replacement workers agree', () => scenario('sqlite', 2), 480_000)
})

/**
 * The console keeps its sessions in a store of its own while the config keeps nothing else in
 * one. That store follows the location a reload names, as a fresh start with the file would
 * open it: console sessions end (their key stays behind in the old store) and new sign-ins
 * live at the new location; once callers open the runtime's store there, sessions carry on.
 */
async function consoleFollows(workers: number): Promise<void> {
  const at = mkdtempSync(join(dir, `console-${workers}-`))
  const [a, b] = [location('sqlite', at, 'a'), location('sqlite', at, 'b')]
  const run = await start(at, yamlOf(a, false), workers)
  try {
    const pids = workers === 1 ? [run.gp.child.pid as number] : await firstPids(run, workers)
    const first = await consoleSession(run.admin)
    await first.read('overview')
    const inA = await a.keys('')
    expect(inA).toEqual(expect.arrayContaining([expect.stringMatching(/^console:session:key/)]))
    expect(await b.keys('')).toBeUndefined()
    await reloadBySignal(run, b, false, pids)
    // The session's key is in A: as after a fresh start with the new file, it has ended.
    const ended = await adminRequest(`${run.admin}/console/api/overview`, { cookie: await first.cookie() })
    expect(ended.status).toBe(401)
    const second = await consoleSession(run.admin)
    expect(await second.read<{ lastReload: { result: ReloadResult } }>('overview')).toMatchObject({ lastReload: { result: { ok: true } }, store: { kind: 'sqlite', up: true } })
    expect(await b.keys('console:session:key')).toHaveLength(1)
    expect(await a.keys('')).toEqual(inA)
    // Callers added at B: the runtime's store opens there, and the session carries on.
    await reloadBySignal(run, b, true, pids)
    const r = await bearerCall(run, 'console-follows')
    expect([r.token, r.call]).toEqual([200, 200])
    expect(await second.read<{ store: unknown }>('overview')).toMatchObject({ store: { kind: 'sqlite', up: true } })
    expect(await b.keys('bearer:')).toHaveLength(1)
    expect(await a.keys('')).toEqual(inA)
  } finally {
    await run.gp.stop('SIGKILL')
  }
}

describe('the console\'s own session store follows the store location until a store is open', () => {
  it('one process', () => consoleFollows(1), 240_000)
  it('--workers 2 (the primary\'s console)', () => consoleFollows(2), 240_000)
})

describe('a store the workers cannot open (review rev-i)', () => {
  // The first config that needs a store opens it in every worker; one they cannot open is refused
  // there. The primary's verdict judged only restart-only keys and start problems, so it accepted
  // the file, fixed the store location no worker had opened, refused the workers' next (good)
  // reload as restart-only, and replacement workers started from that store failed for ever.
  it('--workers 2: the verdict refuses it as the workers do, the next good location is accepted by both, and a replacement starts', async () => {
    const at = mkdtempSync(join(dir, 'unopenable-'))
    const [a, b] = [location('sqlite', at, 'a'), location('sqlite', at, 'b')]
    writeFileSync(join(at, 'plain'), 'a regular file, not a directory')
    const bad: Location = { yaml: `store: { kind: sqlite, file: ${join(at, 'plain', 'x.db')} }\n`, key: 'store.file', keys: async () => undefined }
    const run = await start(at, yamlOf(a, false), 2)
    try {
      let pids = await firstPids(run, 2)
      const s = await consoleSession(run.admin)
      const from = run.gp.output.length
      replaceFile(run.config, yamlOf(bad, true))
      const refused = await s.act<ReloadResult>('reload')
      expect(refused).toEqual({ ok: false, problems: [expect.stringMatching(/: store\.file: sqlite store .*cannot open/)] })
      // Refused by the primary's verdict, once: no worker is asked to open it.
      await eventually(() => run.entries(from).some((e) => e.msg === RELOAD_REFUSED && e.pid === run.gp.child.pid), 60_000, 'the instance to refuse the store')
      replaceFile(run.config, yamlOf(b, true))
      expect(await s.act<ReloadResult>('reload')).toEqual({ ok: true, endpoints: 1 })
      await eventually(() => pids.every((p) => run.entries(from).some((e) => e.msg === ACCEPTED && e.pid === p)), 60_000, 'every worker to accept B')
      // Checked after each worker's later line (its acceptance of B): a refusal of its own would be out by then.
      expect(run.entries(from).filter((e) => e.msg === RELOAD_REFUSED && e.pid !== run.gp.child.pid)).toEqual([])
      const replacement = await replace(run, pids[0] as number)
      pids = [replacement, pids[1] as number]
      const calls = await servedBy(run, replacement, 'unopenable')
      expect((await b.keys('bearer:'))?.length).toBe(calls)
    } finally {
      await run.gp.stop('SIGKILL')
    }
  }, 240_000)
})
