/**
 * Console sessions over the shared store (a real SQLite file): a cookie is good on every
 * instance over the same store, only as issued, under the token it was issued with, until
 * it expires or is ended (on any instance); a CSRF token belongs to one session. The store's
 * session key is agreed by racing instances, sealed with store.sealKeys, carried over a seal
 * key rotation, and a store that does not answer refuses instead of guessing. Tampering is
 * checked as a property over thousands of generated edits.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSessions, SESSION_TTL_MS, type Sessions } from '../../src/console/session.js'
import { sessionKey, sessionKeyEntry, type SessionState } from '../../src/console/session-key.js'
import { createSampler } from '../../src/console/samples.js'
import { GatewayError } from '../../src/errors.js'
import type { WorkerMetrics } from '../../src/ops/index.js'
import { eventually } from '../support/eventually.js'
import { createSealer, openSqliteStore, type Sealer, type Store } from '../../src/store/index.js'

const TOKEN = 'operator-token-0123456789'

let dir: string
const opened: Store[] = []
/** A connection to the test's SQLite file (as a second process or replica opens it), or to another file. */
const sqlite = (name = 'state.db'): Store => {
  const s = openSqliteStore({ file: join(dir, name) })
  opened.push(s)
  return s
}
const sessionsOn = (store: Store, now?: () => number, sealer?: Sealer, sealKeyIds: readonly string[] = []): Sessions =>
  createSessions({ state: () => ({ store, sealer, sealKeyIds }), ...(now ? { now } : {}) })
/** The real store, except that its first get, once answered, waits for release() before returning. */
function pausedAfterFirstGet(store: Store): { store: Store; reached: Promise<void>; release(): void } {
  let reach = (): void => undefined
  let release = (): void => undefined
  const reached = new Promise<void>((r) => (reach = r))
  const released = new Promise<void>((r) => (release = r))
  let first = true
  const paused: Store = {
    get: async (key) => {
      const value = await store.get(key)
      if (first) {
        first = false
        reach()
        await released
      }
      return value
    },
    put: (key, value, ttl) => store.put(key, value, ttl),
    putIfAbsent: (key, value, ttl) => store.putIfAbsent(key, value, ttl),
    increment: (key, by, ttl) => store.increment(key, by, ttl),
    decrementIfPositive: (key) => store.decrementIfPositive(key),
    incrementIfUnder: (counters, bound, ttl) => store.incrementIfUnder(counters, bound, ttl),
    mayHaveLanded: (failure) => store.mayHaveLanded(failure),
    replaceIfUnchanged: (key, expected, replacement, ttl) => store.replaceIfUnchanged(key, expected, replacement, ttl),
    delete: (key) => store.delete(key),
    take: (key) => store.take(key),
    keys: (prefix) => store.keys(prefix),
    ping: () => store.ping(),
    close: () => store.close(),
  }
  return { store: paused, reached, release }
}
const sealerOf = (keys: Record<string, Buffer>, active: string): Sealer => createSealer(Object.entries(keys).map(([id, key]) => ({ id, key })), active)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'console-session-'))
})
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()))
  rmSync(dir, { recursive: true, force: true })
})

describe('console sessions', () => {
  it('a cookie is good until it expires, is ended, or the token changes', async () => {
    let now = 1_000_000
    const sessions = sessionsOn(sqlite(), () => now)
    const { session, cookie } = await sessions.issue('token', TOKEN)
    expect(await sessions.verify(cookie, TOKEN)).toEqual(session)
    expect(await sessions.verify(cookie, `${TOKEN}-rotated`)).toBeUndefined()
    now += SESSION_TTL_MS - 1
    expect((await sessions.verify(cookie, TOKEN))?.who).toBe('token')
    now += 1
    expect(await sessions.verify(cookie, TOKEN)).toBeUndefined()
    now = 1_000_000
    await sessions.end(session)
    expect(await sessions.verify(cookie, TOKEN)).toBeUndefined()
  })

  it('another instance on the same store (a replica, a restart) accepts the cookie and its CSRF token, and sees its sign-out; another store does not', async () => {
    const a = sessionsOn(sqlite())
    const b = sessionsOn(sqlite())
    const elsewhere = sessionsOn(sqlite('other.db'))
    const one = await a.issue('token', TOKEN)
    const two = await a.issue('token', TOKEN)
    expect(await b.verify(one.cookie, TOKEN)).toEqual(one.session)
    expect(await elsewhere.verify(one.cookie, TOKEN)).toBeUndefined()
    expect(await b.checkCsrf(one.session, TOKEN, await a.csrf(one.session, TOKEN))).toBe(true)
    expect(await b.checkCsrf(two.session, TOKEN, await a.csrf(one.session, TOKEN))).toBe(false)
    expect(await b.checkCsrf(one.session, `${TOKEN}-rotated`, await a.csrf(one.session, TOKEN))).toBe(false)
    expect(await b.checkCsrf(one.session, TOKEN, undefined)).toBe(false)
    expect(await elsewhere.checkCsrf(one.session, TOKEN, await a.csrf(one.session, TOKEN))).toBe(false)
    await b.end(one.session)
    expect(await a.verify(one.cookie, TOKEN)).toBeUndefined()
    expect(await a.verify(two.cookie, TOKEN)).toEqual(two.session)
  })

  it('sign-out is kept until the session would have expired, and no longer', async () => {
    const store = sqlite()
    let offset = 0
    const clock = (): number => Date.now() + offset
    const sessions = sessionsOn(store, clock)
    const { session, cookie } = await sessions.issue('token', TOKEN)
    // Signed out 300 ms before the cookie expires.
    offset = SESSION_TTL_MS - 300
    await sessions.end(session)
    expect(await store.keys('console:session:ended:')).toEqual([`console:session:ended:${session.id}`])
    expect(await sessions.verify(cookie, TOKEN)).toBeUndefined()
    await eventually(async () => (await store.keys('console:session:ended:')).length === 0, 15_000, 'the ended id to expire')
    // Gone only once the session itself is over: no signed-out cookie comes back.
    expect(clock()).toBeGreaterThanOrEqual(session.expires)
    expect(await sessions.verify(cookie, TOKEN)).toBeUndefined()
  })

  it('two instances racing to create the key agree on one: the later writer adopts the first one\'s', async () => {
    // B finds no key, then waits while A creates one and signs with it; then B goes on.
    const gate = pausedAfterFirstGet(sqlite())
    const b = sessionKey({ store: gate.store, sealKeyIds: [] })
    await gate.reached
    const a = await sessionKey({ store: sqlite(), sealKeyIds: [] })
    gate.release()
    expect((await b).toString('hex')).toBe(a.toString('hex'))
    const many = await Promise.all(Array.from({ length: 6 }, () => sessionKey({ store: sqlite(), sealKeyIds: [] })))
    expect(new Set(many.map((k) => k.toString('hex')))).toEqual(new Set([a.toString('hex')]))
  })

  it('with store.sealKeys the key is sealed at rest, survives a seal key rotation, and is never carried over from clear text', async () => {
    const store = sqlite()
    const k1 = randomBytes(32)
    const k2 = randomBytes(32)
    const plain = await sessionsOn(store).issue('token', TOKEN)
    const sealed1 = sessionsOn(store, undefined, sealerOf({ k1 }, 'k1'), ['k1'])
    // Sealing turned on: the key kept in clear is not reused, so that session ends.
    expect(await sealed1.verify(plain.cookie, TOKEN)).toBeUndefined()
    const issued = await sealed1.issue('token', TOKEN)
    const material = await sessionKey({ store, sealer: sealerOf({ k1 }, 'k1'), sealKeyIds: ['k1'] })
    const stored = (await store.get(sessionKeyEntry('k1'))) as string
    expect(stored).toMatch(/^v1\.k1\./)
    expect(stored).not.toContain(material.toString('base64url'))
    // k2 becomes active (k1 still configured): same material, sealed under k2; sessions live on.
    const rotated = sessionsOn(store, undefined, sealerOf({ k1, k2 }, 'k2'), ['k1', 'k2'])
    expect(await rotated.verify(issued.cookie, TOKEN)).toEqual(issued.session)
    expect(await store.get(sessionKeyEntry('k2'))).toMatch(/^v1\.k2\./)
    // A sealed entry moved under another name does not open there (AAD is the entry).
    await store.put(sessionKeyEntry('k1'), (await store.get(sessionKeyEntry('k2'))) as string)
    await expect(sessionKey({ store, sealer: sealerOf({ k1, k2 }, 'k1'), sealKeyIds: ['k1', 'k2'] })).rejects.toThrow(/cannot be opened with store\.sealKeys/)
  })

  it('the key carried over into a new seal key\'s entry is counted once (store_records_resealed_total), by the instance whose write the store took; a new key or one already there is not', async () => {
    const k1 = randomBytes(32)
    const k2 = randomBytes(32)
    let carried = 0
    const onCarried = (): void => void carried++
    // A first key under k1: made, not carried.
    const first = await sessionKey({ store: sqlite(), sealer: sealerOf({ k1 }, 'k1'), sealKeyIds: ['k1'], onCarried })
    expect(carried).toBe(0)
    // k2 active: six instances (connections to the file) reach for the key at once; one write is taken.
    const rotated = (): SessionState => ({ store: sqlite(), sealer: sealerOf({ k1, k2 }, 'k2'), sealKeyIds: ['k1', 'k2'], onCarried })
    const keys = await Promise.all(Array.from({ length: 6 }, () => sessionKey(rotated())))
    expect(new Set(keys.map((k) => k.toString('hex')))).toEqual(new Set([first.toString('hex')]))
    expect(carried).toBe(1)
    // Read again, by any instance: already under k2, nothing carried.
    await sessionKey(rotated())
    expect(carried).toBe(1)
  })

  it('a store that does not answer: a process that never read the key refuses (503) and never makes one of its own; one that did keeps using it, and remembers its sign-outs', async () => {
    const refused = (p: Promise<unknown>): Promise<unknown> => expect(p).rejects.toSatisfy((e) => e instanceof GatewayError && e.reason === 'store_unavailable')
    const store = sqlite()
    const sessions = sessionsOn(store)
    const { session, cookie } = await sessions.issue('token', TOKEN)
    await store.close()
    // The key this process read stays its key: the same cookie, new ones, CSRF; a forgery still fails.
    expect(await sessions.verify(cookie, TOKEN)).toMatchObject({ id: session.id })
    const during = await sessions.issue('token', TOKEN)
    expect(await sessions.verify(during.cookie, TOKEN)).toMatchObject({ id: during.session.id })
    expect(await sessions.verify(`${cookie.slice(0, -2)}AA`, TOKEN)).toBeUndefined()
    expect(await sessions.verify(cookie, `${TOKEN}-other`)).toBeUndefined()
    expect(await sessions.checkCsrf(session, TOKEN, await sessions.csrf(session, TOKEN))).toBe(true)
    // A sign-out the store cannot take is a 503, but holds in this process at once.
    await refused(sessions.end(session))
    expect(await sessions.verify(cookie, TOKEN)).toBeUndefined()
    // Another process on a store that is gone never invents a key.
    const gone = sqlite('gone.db')
    const never = sessionsOn(gone)
    await gone.close()
    await refused(never.issue('token', TOKEN))
    await refused(never.verify(cookie, TOKEN))
  })

  it('property: no tampered or forged cookie verifies (real SQLite store, 3,000 runs)', async () => {
    const now = 5_000_000
    const store = sqlite()
    const sessions = sessionsOn(store, () => now)
    const replica = sessionsOn(sqlite(), () => now)
    const otherStore = sessionsOn(sqlite('other.db'), () => now)
    const mine = await sessions.issue('token', TOKEN)
    const cert = await sessions.issue('cert:CN=ops-alice', TOKEN)
    const ended = await sessions.issue('token', TOKEN)
    await sessions.end(ended.session)
    const rotated = await sessions.issue('token', `${TOKEN}-other`)
    const foreign = await otherStore.issue('token', TOKEN)
    const valid = new Set([mine.cookie, cert.cookie])
    const parts = (c: string): string[] => c.split('.')
    const b64 = (s: string): string => Buffer.from(s).toString('base64url')
    // Ways to make a cookie: edit bytes of a good one, splice parts of several, rewrite a field, or write one from scratch.
    const base = fc.constantFrom(mine.cookie, cert.cookie, ended.cookie, rotated.cookie, foreign.cookie)
    const edit = fc.tuple(base, fc.nat(200), fc.string({ minLength: 0, maxLength: 4 }), fc.nat(4)).map(([c, at, text, cut]) => c.slice(0, at % c.length) + text + c.slice((at % c.length) + cut))
    const splice = fc.tuple(base, base, base, base).map(([a, b, c, d]) => [parts(a)[0], parts(b)[1], parts(c)[2], parts(d)[3]].join('.'))
    const field = fc.tuple(base, fc.nat(3), fc.oneof(fc.constantFrom('9999999999999', String(now + SESSION_TTL_MS * 2), b64('cert:CN=root'), b64('token'), ''), fc.string())).map(([c, i, v]) => {
      const p = parts(c)
      p[i] = v
      return p.join('.')
    })
    const scratch = fc.tuple(fc.base64String(), fc.integer({ min: now, max: now * 10 }), fc.constantFrom('token', 'cert:CN=x'), fc.base64String()).map(([id, exp, who, sig]) => `${id}.${exp}.${b64(who)}.${sig}`)
    const anyText = fc.string({ maxLength: 120 })
    await fc.assert(
      fc.asyncProperty(fc.oneof(edit, splice, field, scratch, anyText), fc.boolean(), async (cookie, onReplica) => {
        fc.pre(!valid.has(cookie))
        expect(await (onReplica ? replica : sessions).verify(cookie, TOKEN)).toBeUndefined()
      }),
      { seed: 0x5e55, numRuns: 3_000 },
    )
    // The property had something to refuse: the originals still verify, on both instances.
    for (const s of [sessions, replica]) {
      expect(await s.verify(mine.cookie, TOKEN)).toEqual(mine.session)
      expect((await s.verify(cert.cookie, TOKEN))?.who).toBe('cert:CN=ops-alice')
    }
  })
})

describe('console samples', () => {
  const metrics = (requests: number, errors: number): WorkerMetrics =>
    [{ name: 'mtls_gateway_requests_total', help: '', type: 'counter', aggregator: 'sum', values: [
      { labels: { endpoint: 'a', status_class: '2xx' }, value: requests - errors },
      { labels: { endpoint: 'a', status_class: '5xx' }, value: errors },
    ] }] as unknown as WorkerMetrics

  it('an endpoint a reload removed (its series gone) takes nothing from the rates of the others', async () => {
    let now = 0
    const both = (kept: number, removed: number): WorkerMetrics =>
      [{ name: 'mtls_gateway_requests_total', help: '', type: 'counter', aggregator: 'sum', values: [
        { labels: { endpoint: 'kept', status_class: '2xx' }, value: kept },
        ...(removed > 0 ? [{ labels: { endpoint: 'removed', status_class: '5xx' }, value: removed }] : []),
      ] }] as unknown as WorkerMetrics
    let current = both(10, 50)
    const sampler = createSampler(async () => current, () => now)
    await sampler.touch()
    now = 10_000
    current = both(60, 0)
    await sampler.touch()
    expect(sampler.series()).toEqual([{ at: 10_000, requests: 5, errors: 0 }])
  })

  it('rates are differences between samples; a counter reset (worker restart) shows 0, never a negative rate', async () => {
    let now = 0
    let current = metrics(0, 0)
    const sampler = createSampler(async () => current, () => now)
    await sampler.touch()
    now = 10_000
    current = metrics(100, 10)
    await sampler.touch()
    now = 20_000
    current = metrics(5, 0)
    await sampler.touch()
    expect(sampler.series()).toEqual([
      { at: 10_000, requests: 10, errors: 1 },
      { at: 20_000, requests: 0, errors: 0 },
    ])
  })
})
