/**
 * A store whose primary is really a replica (a stale Sentinel's answer, a URL left on a demoted
 * server): writes are never silently dropped — each fails 503 store_unavailable within its bound,
 * naming READONLY — and the store recovers once the server is a primary again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawClient, startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually } from '../ops/helpers.js'
import { openRedisStore, type RedisStore } from '../../src/store/index.js'

/** Far above commandTimeout: only a hang passes it. */
const HUNG_MS = 30_000
let primary: Peer
let replica: Peer
let store: RedisStore

beforeAll(async () => {
  primary = await startRedisServer()
  replica = await startRedisServer({ conf: () => `replicaof 127.0.0.1 ${primary.port}\n` })
  store = openRedisStore({ url: `redis://127.0.0.1:${replica.port}`, keyPrefix: 'readonly:', commandTimeoutMs: 1500, connectTimeoutMs: 1000 })
})

afterAll(async () => {
  await store?.close()
  await replica?.stop()
  await primary?.stop()
})

/** Connections the server accepted so far, read on one connection kept open (it counts once, at its start). */
async function connectionsReceived(admin: ReturnType<typeof rawClient>): Promise<number> {
  return Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))?.[1])
}

describe('a store pointed at a read-only replica', () => {
  it('stays connected while idle: the connect check\'s refused probe is no reason to reconnect', async () => {
    await eventually(() => store.ping().then(() => true), 20_000, 'the store connected')
    const admin = rawClient(replica.port)
    try {
      const before = await connectionsReceived(admin)
      // The old loop (reconnect on the probe's READONLY answers, probe again) reconnected about 5 times a second.
      await new Promise((resolve) => setTimeout(resolve, 2000))
      expect((await connectionsReceived(admin)) - before).toBe(0)
    } finally {
      admin.disconnect()
    }
  })

  it('fails writes with store_unavailable naming READONLY (bounded), reads still answer, and recovers when the server is promoted', async () => {
    await eventually(() => store.ping().then(() => true), 20_000, 'the store connected')
    // Each refused write reconnects twice (the resend, then the refusal): a few close listeners, never a pile on one socket.
    const warnings: string[] = []
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    for (const write of [() => store.put('k', 'v'), () => store.putIfAbsent('jti:bot:1', '1', 60_000), () => store.take('k'), () => store.increment('throttle:x', 1, 60_000)]) {
      const t0 = Date.now()
      const e = await write().then(() => undefined, (err: unknown) => err as { reason?: string; message?: string })
      expect(e?.reason).toBe('store_unavailable')
      expect(e?.message).toMatch(/^redis store redis:\/\/127\.0\.0\.1:\d+: \w+ failed: the server is a read-only replica \(READONLY You can't write against a read only replica\.\): a failover in progress, or a stale Sentinel or URL naming a demoted primary$/)
      expect(Date.now() - t0).toBeLessThan(HUNG_MS)
    }
    process.off('warning', onWarning)
    expect(warnings).toEqual([])
    expect(await store.get('k')).toBeUndefined()
    const admin = rawClient(replica.port)
    try {
      await admin.call('REPLICAOF', 'NO', 'ONE')
    } finally {
      admin.disconnect()
    }
    await eventually(async () => store.putIfAbsent('jti:bot:2', '1', 60_000).catch(() => false), 20_000, 'writes after the promotion')
    // The replay entry recorded is kept: the same jti is refused a second time.
    expect(await store.putIfAbsent('jti:bot:2', '1', 60_000)).toBe(false)
  })
})
