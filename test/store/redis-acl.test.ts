/**
 * A Redis user whose ACL refuses a command the gateway uses is named at connect, not first by the
 * request that needs it: a warning naming the user, the command and Redis's NOPERM, the same text
 * on /readyz (a note by default) and store_up 0 until the ACL grants it, looked at again at each probe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { rawClient, startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, scrape, startOpsGateway, valueOf } from '../ops/helpers.js'
import { openRedisStore } from '../../src/store/index.js'

const WARNING = "the store's Redis user may not run a command the gateway uses"
const PASSWORD = 'acl-test-password-1'
let pki: TestPki
let redis: Peer

beforeAll(async () => {
  pki = await createTestPki()
  // `default` stays the test's admin; `gw` may do everything but GETDEL (a dance's callback, a link's use), `lua` all but DECR.
  redis = await startRedisServer({ conf: () => `user gw on >${PASSWORD} ~acl:* +@all -getdel\nuser lua on >${PASSWORD} ~acl:* +@all -decr\n` +
    // Users the check cannot use (it queues in a MULTI it discards): left unchecked, never a stuck transaction.
    `user nomulti on >${PASSWORD} ~acl:* +@all -multi\nuser nodiscard on >${PASSWORD} ~acl:* +@all -discard\n` })
})

afterAll(async () => {
  await redis?.stop()
  pki?.cleanup()
})

describe('a Redis ACL that refuses a command the gateway uses', () => {
  it('is named at connect (user, command, NOPERM), noted on /readyz with store_up 0, and clears once granted', async () => {
    const callers = `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gateway.test", endpoints: [partner] }\n`
    const g = await startOpsGateway(pki.dir, `store: { kind: redis, url: "redis://127.0.0.1:${redis.port}", keyPrefix: "acl:", redis: { username: gw, password: "${PASSWORD}" } }\n${callers}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
    const admin = rawClient(redis.port)
    try {
      const warned = await eventually(() => g.lines.map((l) => JSON.parse(l) as { msg: string; problem: string }).find((e) => e.msg === WARNING), 20_000, 'the warning at connect')
      const said = `redis store redis://127.0.0.1:${redis.port}: the ACL of Redis user "gw" refuses getdel (NOPERM`
      expect(warned.problem).toContain(said)
      expect(warned.problem).toContain('the gateway needs get set del getdel scan ping eval incrby pexpire decr info on ~acl:*')
      expect(warned.problem).not.toContain(PASSWORD)
      const ready = JSON.parse((await get(`${g.adminUrl}/readyz`)).text) as { status: string; notes?: string[] }
      expect(ready).toEqual({ status: 'ready', notes: [expect.stringContaining(`store: ${said}`)] })
      expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')).toBe(0)
      await admin.call('ACL', 'SETUSER', 'gw', '+getdel')
      expect(JSON.parse((await get(`${g.adminUrl}/readyz`)).text)).toEqual({ status: 'ready' })
      expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')).toBe(1)
    } finally {
      admin.disconnect()
      await g.gw.close()
    }
  })

  it('a command the throttle\'s scripts run (DECR) is named too', async () => {
    const told: string[] = []
    const store = openRedisStore({ url: `redis://lua:${PASSWORD}@127.0.0.1:${redis.port}`, keyPrefix: 'acl:', onConnectWarning: (w) => told.push(`${w.about}: ${w.problem}`) })
    try {
      const problem = await eventually(() => told[0], 20_000, 'the warning at connect')
      expect(problem).toMatch(/^permissions: redis store redis:\/\/127\.0\.0\.1:\d+: the ACL of Redis user "lua" refuses decr \(NOPERM this user has no permissions to run the 'decr' command\)/)
      expect(problem).not.toContain(PASSWORD)
      await expect(store.ping()).rejects.toThrow(/refuses decr \(NOPERM/)
    } finally {
      await store.close()
    }
  })

  for (const user of ['nomulti', 'nodiscard']) {
    it(`a user refused ${user.slice(2)} (which the check needs, the gateway does not) is left unchecked: no warning, the store works, nothing left under the prefix`, async () => {
      const told: string[] = []
      const store = openRedisStore({ url: `redis://${user}:${PASSWORD}@127.0.0.1:${redis.port}`, keyPrefix: `acl:${user}:`, onConnectWarning: (w) => told.push(w.problem) })
      try {
        // Sent after the check on the same connection (or on the fresh one it leaves for).
        await eventually(async () => (await store.ping().then(() => true, () => false)) && (await store.putIfAbsent('k', 'v', 60_000)), 20_000, 'a write through')
        expect(await store.get('k')).toBe('v')
        expect(await store.keys('')).toEqual(['k'])
        expect(told).toEqual([])
      } finally {
        await store.close()
      }
    })
  }
})

