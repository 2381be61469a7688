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
import { startRedisServer } from '../support/redis-servers.js'
import { clientTlsYaml, createTestPki } from '../support/pki.js'
import { eventually, startOpsGateway } from '../ops/helpers.js'
import { freshLoopback, interceptStore, requestFrom } from './throttle-support.js'

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
})

describe('store commands of a successful POST /gateway/token on Redis (MONITOR)', () => {
  it('two commands on the throttle\'s keys: the take-and-check and the give-back', async () => {
    const SECRET = 'round-trips-throttle-hs256-secret-32b'
    const AUD = 'https://gateway.test'
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
      monitor = await new Redis(url).monitor()
      g = await startOpsGateway(dir, yaml)
      const throttleKey = `${keyPrefix}throttle:`
      const marker = `${keyPrefix}marker:${randomUUID()}`
      // The probe's own reads of the throttle's keys are not the gateway's, nor what a script ran (source "lua"): one command each.
      const probeAddr = /\baddr=(\S+)/.exec(String(await probe.client('INFO')))?.[1]
      const seen: string[][] = []
      monitor.on('monitor', (_time: string, args: string[], source: string) => void (((source !== probeAddr && source !== 'lua') || args.includes(marker)) && seen.push(args)))
      const address = freshLoopback()
      const now = Math.floor(Date.now() / 1000)
      const jwt = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
      const reply = await requestFrom(`${g.gw.url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: jwt }), localAddress: address })
      expect(reply.status, reply.text).toBe(200)
      // The give-back lands after the answer: once the place is free again, a marker after it closes the count.
      const places = async (): Promise<string[]> => (await probe.keys(`${throttleKey}token-exchange:*`)).filter((k) => k.includes(address))
      await eventually(async () => (await Promise.all((await places()).map((k) => probe.get(k)))).every((v) => v === '0'), 20_000, 'the place to be given back')
      await probe.get(marker)
      await eventually(() => seen.some((args) => args.includes(marker)), 20_000, 'the marker in MONITOR')
      const upTo = seen.findIndex((args) => args.includes(marker))
      const commands = seen.slice(0, upTo).filter((args) => args.some((a) => a.startsWith(throttleKey))).map((args) => (args[0] ?? '').toLowerCase())
      expect(commands, commands.join(' ')).toHaveLength(2)
      expect(commands.every((c) => c === 'eval' || c === 'evalsha')).toBe(true)
    } finally {
      monitor?.disconnect()
      probe.disconnect()
      await g?.gw.close()
      await redis.stop()
      pki.cleanup()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
