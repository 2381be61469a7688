/**
 * The Redis store's connect checks (permissions, memory policy, the server's run_id) run outside
 * every request, whatever context the connection became ready in: a Cluster node connection a
 * request's command made is ready in that request's context, where a check would be refused at
 * once for the request's earlier store failure, and a check's own failure would fail the
 * request's later store calls. A real redis-server; the checks' commands go through a `run` that
 * notes whether it was called inside a request that had failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { createRedisClient, type RedisClient } from '../../src/store/redis-client.js'
import { ConnectChecks } from '../../src/store/redis-connect-checks.js'
import { flatLayout } from '../../src/store/redis-keys.js'
import { failIfStoreFailed, rememberStoreFailure, withOneStoreWait } from '../../src/store/request-wait.js'
import { eventually } from '../support/eventually.js'
import type { Peer } from '../support/peers.js'
import { startRedisServer } from '../support/redis-servers.js'

let redis: Peer
let client: RedisClient

beforeAll(async () => {
  redis = await startRedisServer()
  client = createRedisClient({ topology: { kind: 'standalone', url: `redis://127.0.0.1:${redis.port}` }, connectTimeoutMs: 2000, commandTimeoutMs: 3000 })
  await eventually(() => client.ping().then(() => true), 20_000, 'the client connected')
})

afterAll(async () => {
  client?.disconnect()
  await redis?.stop()
})

/** The checks' commands, each noted with whether it was refused at once for the request's earlier failure; `info` fails, as a Redis refusing it or not answering in time would make it. */
function checksNoting(ops: { op: string; refusedForTheRequest: boolean }[]): ConnectChecks {
  const run = <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    let refusedForTheRequest = false
    try {
      failIfStoreFailed()
    } catch {
      refusedForTheRequest = true
    }
    ops.push({ op, refusedForTheRequest })
    return op === 'info' ? Promise.reject(rememberStoreFailure(new GatewayError('store_unavailable', 'info refused'))) : fn()
  }
  return new ConnectChecks(client, { where: 'test', keys: flatLayout('ctx:'), prefix: 'ctx:', options: {}, acknowledged: false, run, primaries: () => Promise.resolve([]) })
}

/** The request's own next store call after `checks.connected()` ran in its context: its failure, if refused at once. */
async function connectedInRequest(checks: ConnectChecks, ops: unknown[], earlier: GatewayError | undefined): Promise<unknown> {
  return withOneStoreWait(async () => {
    if (earlier) rememberStoreFailure(earlier)
    checks.connected()
    await eventually(() => ops.length >= 3, 20_000, 'the checks ran')
    try {
      failIfStoreFailed()
      return undefined
    } catch (e) {
      return e
    }
  })
}

describe('the Redis store\'s connect checks', () => {
  it('are not refused for the failure the request whose context the connection became ready in met before', async () => {
    const ops: { op: string; refusedForTheRequest: boolean }[] = []
    const earlier = new GatewayError('store_unavailable', 'an earlier failure of this request')
    expect(await connectedInRequest(checksNoting(ops), ops, earlier)).toBe(earlier)
    expect(ops.map((o) => o.op).sort()).toEqual(['acl check', 'info', 'info'])
    expect(ops.filter((o) => o.refusedForTheRequest)).toEqual([])
  })

  it('failing, do not fail that request\'s later store calls', async () => {
    const ops: { op: string; refusedForTheRequest: boolean }[] = []
    expect(await connectedInRequest(checksNoting(ops), ops, undefined)).toBeUndefined()
    expect(ops.map((o) => o.op).sort()).toEqual(['acl check', 'info', 'info'])
  })
})
