/**
 * What the contract suite cannot see: the Cluster key layout (hash tags keep a user's or a
 * request's keys on one slot, and listings still find exactly the keys under a prefix), and
 * TLS that really verifies (wrong CA, wrong name, no client certificate: refused, named 503),
 * and a password that works and never appears in a message.
 */
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { isGatewayError } from '../../src/errors.js'
import { openRedisStore, type RedisStoreOptions } from '../../src/store/index.js'
import { escapeGlob, flatLayout, hashTagLayout } from '../../src/store/redis-keys.js'
import { createTestPki } from '../support/pki.js'
import { startRedisServer } from '../support/redis-servers.js'
import { clusterStoreOptions, stopStoreServers, tlsStoreOptions, uniqueRedisPrefix } from '../support/store-backends.js'

afterAll(stopStoreServers, 30_000)

/** The glob our patterns use (escapes and a trailing `*`), as a RegExp. */
function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string
    if (ch === '\\') out += (glob[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    else if (ch === '*') out += '.*'
    else out += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${out}$`, 's')
}

const keyText = fc.string({ unit: fc.constantFrom('a', 'b', ':', '{', '}', '*', '?', '[', '\\', '-', 'é'), maxLength: 12 })

describe('key layout', () => {
  it('round-trips every key; a prefix\'s pattern never misses a key under it (both layouts)', () => {
    for (const layout of [hashTagLayout('gw:'), flatLayout('gw:')]) {
      fc.assert(
        fc.property(keyText, keyText, (key, prefix) => {
          expect(layout.fromRedis(layout.toRedis(key))).toBe(key)
          // A superset: keys() then keeps exactly the keys under the prefix.
          if (key.startsWith(prefix)) expect(globToRegExp(layout.pattern(prefix)).test(layout.toRedis(key))).toBe(true)
        }),
        { seed: 17, numRuns: 3000 },
      )
    }
    expect(escapeGlob('a*b')).toBe('a\\*b')
    expect(hashTagLayout('gw:').toRedis('oauth1:token:rita:partner:t1')).toBe('gw:{oauth1:token:rita}:partner:t1')
    expect(() => hashTagLayout('gw{x}:')).toThrow(/must not contain/)
  })

  it('on a Cluster without replicas, writes that must reach a replica are refused, and the probe says why', async () => {
    const o = await clusterStoreOptions(uniqueRedisPrefix())
    const store = openRedisStore({ ...o, acknowledge: { replicas: 1, timeoutMs: 200 } })
    try {
      // WAIT runs on the node that took the write (same pipeline): it has no replica to confirm it.
      await expect(store.put('oauth1:token:ann:p:', 'v')).rejects.toThrow(/put reached 0 of 1 replicas within 200 ms; not acknowledged/)
      await expect(store.ping()).rejects.toThrow(/the primary 127\.0\.0\.1:\d+ has 0 of the 1 replicas writes must reach/)
    } finally {
      await store.close()
    }
  })

  it('on a real Cluster, a user\'s tokens share a slot and listings span every primary', async () => {
    const keyPrefix = uniqueRedisPrefix()
    const o = await clusterStoreOptions(keyPrefix)
    const store = openRedisStore(o)
    const layout = hashTagLayout(keyPrefix)
    const node = o.cluster?.nodes[0] as { port: number }
    const raw = new Redis({ host: '127.0.0.1', port: node.port })
    try {
      const slot = async (key: string): Promise<number> => Number(await raw.call('CLUSTER', 'KEYSLOT', layout.toRedis(key)))
      const rita = ['oauth1:token:rita:partner:', 'oauth1:token:rita:bank:t1', 'oauth1:token:rita:bank:t2']
      expect(new Set(await Promise.all(rita.map(slot))).size).toBe(1)
      const users = Array.from({ length: 40 }, (_, i) => `oauth1:token:user${i}:partner:`)
      for (const k of [...rita, ...users]) await store.put(k, 'v', 60_000)
      // Forty users spread over three primaries: a listing that asked one node would miss some.
      expect(new Set(await Promise.all(users.map(slot))).size).toBeGreaterThan(3)
      expect(await store.keys('oauth1:token:rita:')).toEqual([...rita].sort())
      expect(await store.keys('oauth1:token:')).toHaveLength(43)
      // "{ab}" matches the pattern of prefix "ab}", but "ab" is not under it.
      await store.put('ab', 'v', 60_000)
      expect(await store.keys('ab}')).toEqual([])
      expect(await store.keys('ab')).toEqual(['ab'])
      for (const k of await store.keys('')) await store.delete(k)
    } finally {
      raw.disconnect()
      await store.close()
    }
  })
})

describe('TLS to Redis', () => {
  it('works with the right CA, name and client certificate, and is refused otherwise', async () => {
    const good = await tlsStoreOptions(uniqueRedisPrefix())
    const other = await createTestPki()
    const tls = good.tls ?? {}
    const cases: [string, RedisStoreOptions][] = [
      ['unknown CA', { ...good, tls: { ...tls, ca: other.root.pem } }],
      ['wrong name', { ...good, tls: { ...tls, serverName: 'not-the-redis.test' } }],
      ['no client certificate', { ...good, tls: { ca: tls.ca, serverName: 'localhost' } }],
      ['plain text to the TLS port', { ...good, url: (good.url as string).replace('rediss:', 'redis:'), tls: undefined }],
    ]
    try {
      const ok = openRedisStore(good)
      await ok.put('k', 'v', 10_000)
      expect(await ok.get('k')).toBe('v')
      await ok.close()
      for (const [what, o] of cases) {
        const s = openRedisStore({ ...o, commandTimeoutMs: 1500, connectTimeoutMs: 1000 })
        const e: unknown = await s.get('k').then(() => undefined, (err: unknown) => err)
        expect(isGatewayError(e) && e.reason, what).toBe('store_unavailable')
        await s.close()
      }
    } finally {
      other.cleanup()
    }
  })
})

describe('Redis password', () => {
  it('authenticates with the configured password; a wrong one is a named 503 that never shows it', async () => {
    const server = await startRedisServer({ conf: () => 'requirepass right-password-9f2c\n' })
    const url = `redis://127.0.0.1:${server.port}`
    try {
      const ok = openRedisStore({ url, password: 'right-password-9f2c', keyPrefix: uniqueRedisPrefix() })
      await ok.put('k', 'v', 10_000)
      expect(await ok.get('k')).toBe('v')
      await ok.close()
      for (const o of [{ url, password: 'wrong-password-77aa' }, { url: `redis://:wrong-password-77aa@127.0.0.1:${server.port}` }]) {
        const bad = openRedisStore({ ...o, commandTimeoutMs: 1500, connectTimeoutMs: 1000 })
        const e: unknown = await bad.get('k').then(() => undefined, (err: unknown) => err)
        expect(isGatewayError(e) && e.reason).toBe('store_unavailable')
        expect((e as Error).message).toMatch(/^redis store redis:\/\/127\.0\.0\.1:\d+/)
        expect((e as Error).message).not.toContain('wrong-password-77aa')
        await bad.close()
      }
    } finally {
      await server.stop()
    }
  })
})
