/**
 * ioredis 6.1 registers every RESP3 connection for Redis's maintenance notifications unless told
 * not to, and a `MOVING` notification makes it dial an address the server names. The gateway's
 * connections never register: a byte relay in front of the real Redis (and the real Sentinels)
 * records what each connection sends (in lower case).
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRedisStore } from '../../src/store/index.js'
import { closeRedisClient, createRedisClient } from '../../src/store/redis-client.js'
import { joinSockets } from '../support/peers.js'
import { eventually, startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import { REDIS_URL, stopStoreServers, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

// ioredis sends command names in lower case, arguments as given: compare in lower case.
const REGISTRATION = 'maint_notifications'

/** A relay to 127.0.0.1:`port` keeping, per connection, every byte the client sent. */
interface Relay {
  readonly port: number
  readonly sent: string[]
  close(): Promise<void>
}

async function startRelay(port: number): Promise<Relay> {
  const sent: string[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const i = sent.push('') - 1
    const upstream = connect(port, '127.0.0.1')
    joinSockets(sockets, client, upstream)
    client.on('data', (chunk: Buffer) => {
      sent[i] += chunk.toString('latin1').toLowerCase()
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('relay has no port')
  return {
    port: address.port,
    sent,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

const redisPort = Number(new URL(REDIS_URL).port || 6379)
const relays: Relay[] = []
afterAll(async () => {
  await Promise.all(relays.map((r) => r.close()))
  await stopStoreServers()
})

async function relayTo(port: number): Promise<Relay> {
  const r = await startRelay(port)
  relays.push(r)
  return r
}

describe('the gateway\'s Redis connections never register for server-directed handoff', () => {
  it('an ioredis client with its defaults does register (the relay sees it)', async () => {
    const relay = await relayTo(redisPort)
    const raw = new Redis({ host: '127.0.0.1', port: relay.port, maxRetriesPerRequest: 1, retryStrategy: () => null })
    try {
      expect(await raw.ping()).toBe('PONG')
      expect(relay.sent.join('')).toContain(REGISTRATION)
    } finally {
      raw.disconnect()
    }
  })

  it('one server: the store\'s connection sends its commands and never the registration', async () => {
    const relay = await relayTo(redisPort)
    const keyPrefix = uniqueRedisPrefix()
    const store = openRedisStore({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix, commandTimeoutMs: 5000, connectTimeoutMs: 5000 })
    try {
      await store.put('handoff:k', 'v', 60_000)
      expect(await store.get('handoff:k')).toBe('v')
      const sent = relay.sent.join('')
      expect(sent).toContain('hello') // RESP3, where the registration would be sent
      expect(sent).toContain('handoff:k')
      expect(sent).not.toContain(REGISTRATION)
    } finally {
      await store.close()
      await wipeRedisPrefix(keyPrefix)
    }
  })

  describe('Sentinel', () => {
    let set: SentinelSet
    beforeAll(async () => {
      set = await startSentinelSet('handoffprimary')
    })
    afterAll(async () => {
      await set?.stop()
    })

    it('the primary\'s client is built without it, and the gateway\'s Sentinel subscriptions never send it', async () => {
      const sentinelRelays = await Promise.all(set.sentinels.map((s) => relayTo(s.port)))
      const client = createRedisClient({
        topology: { kind: 'sentinel', sentinels: sentinelRelays.map((r) => ({ host: '127.0.0.1', port: r.port })), primaryName: set.primaryName },
        connectTimeoutMs: 5000,
        commandTimeoutMs: 5000,
      })
      try {
        expect(await client.ping()).toBe('PONG')
        expect('maintNotifications' in client.options && client.options.maintNotifications).toBe('disabled')
        // The watch subscribes at each configured Sentinel (through its relay) for +switch-master.
        const subscriptions = (): string[] => sentinelRelays.flatMap((r) => r.sent).filter((s) => s.includes('subscribe'))
        await eventually('a subscription at every configured Sentinel', async () => subscriptions().length >= sentinelRelays.length)
        for (const s of subscriptions()) expect(s).not.toContain(REGISTRATION)
      } finally {
        await closeRedisClient(client)
      }
    })
  })
})
