/**
 * A gateway in this process on a redis-server of the suite's own, which a test pauses (SIGSTOP)
 * to make the store stop answering without closing its connections: what the throttle tests of
 * store outages share. Short store timeouts, so each call meets the outage within a second.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startTestGateway } from '../support/gateway.js'
import { usePausableRedis, type PausableRedis } from '../support/redis-server.js'

/** The store's `redis:` options the gateway's YAML must carry. */
export const SHORT_REDIS_TIMEOUTS = '{ commandTimeout: 600ms, acknowledgeTimeout: 200ms, connectTimeout: 400ms }'

export interface PausedRedisGateway extends Pick<PausableRedis, 'whilePaused'> {
  readonly gw: RunningGateway
}

/** Starts the gateway of `yamlFor(store)` before the suite and stops it (and the redis-server) after it. */
export function usePausedRedisGateway(name: string, yamlFor: (store: { kind: 'redis'; url: string; keyPrefix: string }) => string): PausedRedisGateway {
  const redis = usePausableRedis()
  let gw: RunningGateway | undefined
  let dir = ''
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${name}-`))
    gw = await startTestGateway(dir, yamlFor({ kind: 'redis', url: redis.server.url, keyPrefix: 'outage:' }))
  })
  afterAll(async () => {
    await gw?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  return {
    get gw() {
      if (!gw) throw new Error(`${name}: the gateway did not start`)
      return gw
    },
    whilePaused: (fn) => redis.whilePaused(fn),
  }
}
