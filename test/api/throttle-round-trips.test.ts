/**
 * What the failed-exchange throttle costs a successful exchange in store traffic, counted (never
 * timed) so it cannot grow back: one atomic take-and-check (Store.incrementIfUnder) to admit it
 * and one give-back (decrementIfPositive) after its answer, two commands in two round trips on
 * every backend; a failed exchange, the take and the failure added. Counted twice: the calls the
 * throttle makes on each real backend (a round trip is a call started while none is in flight),
 * and the commands a real gateway on Redis sends for its throttle keys (Redis MONITOR, on a server
 * of the test's own: nothing else may talk to it while MONITOR starts). Before,
 * a successful exchange made 7 (3 GETs, the increment, 2 re-reads across the minute boundary,
 * the give-back) in 4 round trips.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createExchangeThrottle } from '../../src/api/exchange-throttle.js'
import type { Store } from '../../src/store/index.js'
import { STORE_BACKENDS, stopStoreServers, uniqueRedisPrefix, type StoreHarness } from '../support/store-backends.js'
import { monitorClient, startRedisServer } from '../support/redis-servers.js'
import { clientTlsYaml, createTestPki } from '../support/pki.js'
import { eventually, startOpsGateway } from '../ops/helpers.js'
import { freshLoopback, inOneWindow, interceptStore, requestFrom } from './throttle-support.js'

/** `inner` counting the calls made on it, and the round trips: calls started while none was in flight. */
function countingStore(inner: Store): { store: Store; calls: string[]; rounds: () => number } {
  const calls: string[] = []
  let inFlight = 0
  let rounds = 0
  const store = interceptStore(inner, (method, result) => {
    if (!(result instanceof Promise) || method === 'close') return result
    if (inFlight === 0) rounds += 1
    inFlight += 1
    calls.push(method)
    return result.finally(() => (inFlight -= 1))
  })
  return { store, calls, rounds: () => rounds }
}

afterAll(() => stopStoreServers())

describe.each(STORE_BACKENDS.filter((b) => b.name !== 'redis-tls'))('store round trips of the failed-exchange throttle on $name', (backend) => {
  let h: StoreHarness
  beforeEach(async () => {
    h = await backend.setup()
  })
  afterEach(async () => {
    await h.cleanup()
  })

  it('a successful exchange: one take-and-check to be admitted and one give-back, in two round trips; a failed one: the take and the failure added', async () => {
    const counted = countingStore(h.store)
    const throttle = createExchangeThrottle(() => counted.store)
    const address = freshLoopback()
    const ok = await throttle.admit(address, 5)
    expect(ok.admitted).toBe(true)
    if (ok.admitted) await ok.settle(false)
    expect(counted.calls).toEqual(['incrementIfUnder', 'decrementIfPositive'])
    expect(counted.rounds()).toBe(2)
    counted.calls.length = 0
    const failed = await throttle.admit(address, 5)
    if (failed.admitted) await failed.settle(true)
    expect(counted.calls).toEqual(['incrementIfUnder', 'increment'])
  })

  it('a refused exchange (its settled failures at the limit): one take-and-check, which reads the failures too, in one round trip, in the process that counted them and in another', async () => {
    await inOneWindow(async (address) => {
      const counted = countingStore(h.store)
      const [here, there] = [createExchangeThrottle(() => counted.store), createExchangeThrottle(() => counted.store)]
      for (let i = 0; i < 3; i++) {
        const failed = await here.admit(address, 3)
        if (failed.admitted) await failed.settle(true)
      }
      for (const throttle of [here, there]) {
        counted.calls.length = 0
        const before = counted.rounds()
        const refused = await throttle.admit(address, 3)
        expect(refused).toMatchObject({ admitted: false, inFlight: false })
        expect(counted.calls).toEqual(['incrementIfUnder'])
        expect(counted.rounds() - before).toBe(1)
      }
    })
  })
})

const SECRET = 'round-trips-throttle-hs256-secret-32b'
const AUD = 'https://gateway.test'

/** A gateway on a Redis of its own with MONITOR on; `seen` gets every command but the probe's own reads and what scripts ran (source "lua"), and the probe's reads of a marker. */
interface MonitoredGateway {
  url: string
  keyPrefix: string
  probe: Redis
  seen: string[][]
}

async function withMonitoredGateway(run: (m: MonitoredGateway) => Promise<void>): Promise<void> {
  const pki = await createTestPki()
  const dir = mkdtempSync(join(tmpdir(), 'throttle-round-trips-'))
  const keyPrefix = uniqueRedisPrefix()
  // A server of its own: ioredis fails MONITOR ("Command queue state error") when other clients'
  // commands arrive in the same read as MONITOR's OK, so no client but this test's may be there
  // yet (the shared Redis has other test files' traffic), and the gateway starts after it.
  const redis = await startRedisServer()
  const url = `redis://127.0.0.1:${redis.port}`
  // The probe connects at its first command, once MONITOR runs.
  const probe = new Redis(url, { lazyConnect: true })
  let monitor: Redis | undefined
  const yaml = `listen: { host: 127.0.0.1, port: 0 }\nstore: { kind: redis, url: "${url}", keyPrefix: "${keyPrefix}" }\ncallers:\n  failedExchangesPerMinute: 5\n  apps:\n    - { clientId: bot, hs256Secret: "${SECRET}", audience: "${AUD}", endpoints: ["*"] }\nendpoints:\n  - { name: partner, url: "https://api.partner.test:9", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(pki)} }\n`
  let g: Awaited<ReturnType<typeof startOpsGateway>> | undefined
  try {
    monitor = await monitorClient(redis.port)
    g = await startOpsGateway(dir, yaml)
    const probeAddr = /\baddr=(\S+)/.exec(String(await probe.client('INFO')))?.[1]
    const seen: string[][] = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => void (((source !== probeAddr && source !== 'lua') || args.some((a) => a.includes(':marker:'))) && seen.push(args)))
    await run({ url: g.gw.url, keyPrefix, probe, seen })
  } finally {
    monitor?.disconnect()
    probe.disconnect()
    await g?.gw.close()
    await redis.stop()
    pki.cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The commands on the throttle's keys the gateway sent between the probe's reads of `from` (none: the start) and `to`, once MONITOR showed `to`. */
async function throttleCommands(m: MonitoredGateway, from: string | undefined, to: string): Promise<string[]> {
  await m.probe.get(to)
  await eventually(() => m.seen.some((args) => args.includes(to)), 20_000, 'the marker in MONITOR')
  const start = from === undefined ? 0 : m.seen.findIndex((args) => args.includes(from)) + 1
  const upTo = m.seen.findIndex((args) => args.includes(to))
  return m.seen.slice(start, upTo).filter((args) => args.some((a) => a.startsWith(`${m.keyPrefix}throttle:`))).map((args) => (args[0] ?? '').toLowerCase())
}

async function exchange(url: string, address: string, secret = SECRET): Promise<number> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
  const reply = await requestFrom(`${url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: jwt }), localAddress: address })
  return reply.status
}

describe('store commands of POST /gateway/token on Redis (MONITOR)', () => {
  it('a successful one: two commands on the throttle\'s keys, the take-and-check and the give-back', async () => {
    await withMonitoredGateway(async (m) => {
      const address = freshLoopback()
      expect(await exchange(m.url, address)).toBe(200)
      // The give-back lands after the answer: once the place is free again, a marker after it closes the count.
      const places = async (): Promise<string[]> => (await m.probe.keys(`${m.keyPrefix}throttle:token-exchange:*`)).filter((k) => k.includes(address))
      await eventually(async () => (await Promise.all((await places()).map((k) => m.probe.get(k)))).every((v) => v === '0'), 20_000, 'the place to be given back')
      const commands = await throttleCommands(m, undefined, `${m.keyPrefix}marker:${randomUUID()}`)
      expect(commands, commands.join(' ')).toHaveLength(2)
      expect(commands.every((c) => c === 'eval' || c === 'evalsha')).toBe(true)
    })
  })

  it('a refused one (429, its address\'s settled failures at the limit): one command, the take-and-check that reads the failures too', async () => {
    await withMonitoredGateway(async (m) => {
      await inOneWindow(async (address) => {
        for (let i = 0; i < 5; i++) expect(await exchange(m.url, address, 'a-wrong-hs256-secret-of-32-bytes!!')).toBe(401)
        // Each failure is added as it settles, after its answer: once all five are counted, a marker opens the count.
        const failed = async (): Promise<number> => (await Promise.all((await m.probe.keys(`${m.keyPrefix}throttle:token-exchange-failed:*`)).filter((k) => k.includes(address)).map((k) => m.probe.get(k)))).reduce((n, v) => n + Number(v), 0)
        await eventually(async () => (await failed()) === 5, 20_000, 'the five failures counted')
        const opened = `${m.keyPrefix}marker:${randomUUID()}`
        await m.probe.get(opened)
        expect(await exchange(m.url, address)).toBe(429)
        const commands = await throttleCommands(m, opened, `${m.keyPrefix}marker:${randomUUID()}`)
        expect(commands, commands.join(' ')).toEqual(['eval'])
      })
    })
  })
})
