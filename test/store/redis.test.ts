import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { isGatewayError } from '../../src/errors.js'
import { openRedisStore, openStore, type Store } from '../../src/store/index.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const prefixes: string[] = []
const stores: Store[] = []
function open(keyPrefix = uniqueRedisPrefix()): Store {
  prefixes.push(keyPrefix)
  const s = openRedisStore({ url: REDIS_URL, keyPrefix })
  stores.push(s)
  return s
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const p of prefixes.splice(0)) await wipeRedisPrefix(p)
})

async function rejection(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const t0 = Date.now()
  try {
    await p
  } catch (error) {
    return { error, ms: Date.now() - t0 }
  }
  throw new Error('expected a rejection')
}

describe('Redis store', () => {
  it('stores under the prefix with a real PX expiry', async () => {
    const prefix = uniqueRedisPrefix()
    const store = open(prefix)
    await store.put('a', 'x', 60_000)
    await store.put('b', 'y')
    const raw = new Redis(REDIS_URL)
    try {
      expect(await raw.get(`${prefix}a`)).toBe('x')
      const pttl = await raw.pttl(`${prefix}a`)
      expect(pttl).toBeGreaterThan(50_000)
      expect(pttl).toBeLessThanOrEqual(60_000)
      expect(await raw.pttl(`${prefix}b`)).toBe(-1)
    } finally {
      raw.disconnect()
    }
  })

  it('prefixes isolate stores sharing one Redis', async () => {
    const one = open()
    const two = open()
    await one.put('k', '1')
    expect(await two.get('k')).toBeUndefined()
    expect(await two.putIfAbsent('k', '2')).toBe(true)
    expect(await one.keys('')).toEqual(['k'])
    expect(await one.get('k')).toBe('1')
  })

  it('keys() pages through SCAN beyond one batch', async () => {
    const store = open()
    const raw = new Redis(REDIS_URL)
    const prefix = prefixes[prefixes.length - 1] ?? ''
    try {
      const pipe = raw.pipeline()
      for (let i = 0; i < 1500; i++) pipe.set(`${prefix}many:${i}`, 'x')
      await pipe.exec()
    } finally {
      raw.disconnect()
    }
    const keys = await store.keys('many:')
    expect(keys).toHaveLength(1500)
    expect(new Set(keys).size).toBe(1500)
  })

  it('openStore({kind: "redis"}) opens a working store', async () => {
    const keyPrefix = uniqueRedisPrefix()
    prefixes.push(keyPrefix)
    const store = openStore({ kind: 'redis', url: REDIS_URL, keyPrefix })
    stores.push(store)
    await store.put('x', 'y')
    expect(await store.get('x')).toBe('y')
  })

  it('a down Redis fails fast with a clear message, never hangs', async () => {
    // Timeouts far above the bounds: an operation or a close that waited for one (a command, a
    // connect) would take 30 s; failing on the refusal takes milliseconds, a loaded machine seconds.
    const store = openRedisStore({ url: 'redis://user:hunter2@127.0.0.1:1', keyPrefix: uniqueRedisPrefix(), commandTimeoutMs: 30_000, connectTimeoutMs: 30_000 })
    try {
      for (const op of [store.get('a'), store.put('a', 'b', 1000), store.putIfAbsent('a', 'b'), store.ping()]) {
        const { error, ms } = await rejection(op)
        expect(ms).toBeLessThan(10_000)
        expect(isGatewayError(error) && error.reason).toBe('store_unavailable')
        const msg = (error as Error).message
        expect(msg).toMatch(/^redis store redis:\/\/127\.0\.0\.1:1 is unreachable \(.*ECONNREFUSED.*\)/)
        expect(msg).not.toContain('hunter2')
      }
    } finally {
      const t0 = Date.now()
      await store.close()
      expect(Date.now() - t0).toBeLessThan(10_000)
    }
  })

  it('an unanswering Redis (commands time out) fails within the command timeout', async () => {
    // A listening socket that never answers: connect succeeds, the handshake never completes.
    const { createServer } = await import('node:net')
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const store = openRedisStore({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 800, connectTimeoutMs: 500 })
    try {
      const { error, ms } = await rejection(store.get('a'))
      expect(ms).toBeLessThan(3000)
      expect((error as Error).message).toMatch(new RegExp(`redis store redis://127\\.0\\.0\\.1:${port}`))
    } finally {
      await store.close()
      silent.close()
    }
  })

  it('rejects a URL that is not redis:// without echoing it', () => {
    expect(() => openRedisStore({ url: 'http://u:topsecret@h' })).toThrow(/scheme must be redis: or rediss:/)
    expect(() => openRedisStore({ url: 'not a url topsecret' })).toThrow(/not a valid URL/)
    try {
      openRedisStore({ url: 'not a url topsecret' })
    } catch (e) {
      expect((e as Error).message).not.toContain('topsecret')
    }
  })
})
