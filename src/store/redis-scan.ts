/** Listing the Redis store's keys: SCAN on every primary that holds some. */
import type { Redis } from 'ioredis'
import { isCluster, type RedisClient } from './redis-client.js'
import type { KeyLayout } from './redis-keys.js'

const SCAN_COUNT = 500

/** The store keys under `prefix` on `nodes` (each SCAN through `run`, the store's bound), sorted and without repeats. */
export async function scanKeys(nodes: readonly Redis[], layout: KeyLayout, prefix: string, run: <T>(fn: () => Promise<T>) => Promise<T>): Promise<string[]> {
  const pattern = layout.pattern(prefix)
  const found = new Set<string>()
  for (const node of nodes) {
    let cursor = '0'
    do {
      // SCAN, never KEYS: KEYS blocks the whole server on a large keyspace.
      const [next, batch] = await run(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT))
      // SCAN may return a key twice (the Set) and a hash-tag pattern may match a little
      // more than the prefix (a "}" in it): the check makes the answer exact.
      for (const k of batch) {
        const key = layout.fromRedis(k)
        if (key.startsWith(prefix)) found.add(key)
      }
      cursor = next
    } while (cursor !== '0')
  }
  return [...found].sort()
}

/** The servers a listing must SCAN (`run` bounds the wait for a Cluster's first connect). */
export async function scanTargets(redis: RedisClient, run: <T>(fn: () => Promise<T>) => Promise<T>): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis]
  // A Cluster learns its primaries as it connects: until then nodes() is empty, and a
  // listing would find nothing. Any command waits in the offline queue for that.
  if (redis.status !== 'ready') await run(() => redis.ping())
  // SCAN is per server: a Cluster's keys are spread over its primaries.
  return redis.nodes('master')
}
