/**
 * One store wait per request (docs/store.md: 503 store_unavailable within commandTimeout): while
 * a real redis-server is paused (SIGSTOP), the console's sign-in and the admin token's revoke and
 * authorize make their failure throttle's store calls and their own, yet each answers after one
 * commandTimeout, not one per call (the bound is under two: it counts waits, it is no speed
 * target). The throttle's counting across replicas on a Redis that answers is
 * test/console/sign-in-throttle-replicas.test.ts and admin-throttle.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { adminRequest, type Reply } from '../support/admin-request.js'
import { ADMIN_TOKEN, gatewayYaml } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'
import { sendSignal } from '../support/signals.js'

// Long enough that a second wait stands out from a loaded machine's slowness.
const COMMAND_TIMEOUT_MS = 3_000
// One wait and 2.7 s to spare for a loaded machine (a request's own work and a starved event loop);
// two waits (6 s and the same work) are over it.
const ONE_WAIT_BOUND_MS = 1.9 * COMMAND_TIMEOUT_MS
const CONSOLE_TOKEN = 'console-token-for-one-wait-test-0123'
const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "one-wait-hs256-secret-of-32-bytes-long"\n      audience: https://gateway.test\n      endpoints: ["*"]`

const fx = useDanceProvider()
let redis: Peer
let g: OpsGateway
let dir: string
let paused = false

beforeAll(async () => {
  redis = await startRedisServer()
  dir = mkdtempSync(join(tmpdir(), 'store-outage-one-wait-'))
  const store = { kind: 'redis' as const, url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'one-wait:' }
  const yaml = gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS })
    .replace('keyPrefix: "one-wait:"', `keyPrefix: "one-wait:"\n  redis: { commandTimeout: ${COMMAND_TIMEOUT_MS}ms, acknowledgeTimeout: 100ms, connectTimeout: 400ms }`)
    .replace('admin:\n  enabled: false\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: ${CONSOLE_TOKEN}\n`)
  expect(yaml).toContain(`commandTimeout: ${COMMAND_TIMEOUT_MS}ms`)
  expect(yaml).not.toContain('enabled: false')
  g = await startOpsGateway(dir, yaml)
})

afterAll(async () => {
  if (paused) sendSignal(redis.pid, 'SIGCONT')
  await g?.gw.close()
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** `send()`'s reply and how long it took. */
async function timed(send: () => Promise<Reply>): Promise<{ reply: Reply; ms: number }> {
  const start = performance.now()
  const reply = await send()
  return { reply, ms: performance.now() - start }
}

const signIn = (): Promise<Reply> => adminRequest(`${g.adminUrl}/console/api/login`, { method: 'POST', origin: g.adminUrl, body: { token: CONSOLE_TOKEN } })
const admin = (method: string, path: string): Promise<Reply> => adminRequest(`${g.gw.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

describe('a request while the redis-server is paused (SIGSTOP)', () => {
  it('waits out commandTimeout once: console sign-in 200, revoke and authorize 503 store_unavailable', async () => {
    // Signed in once with the store up: the session key is read, and kept for the outage.
    expect((await signIn()).status).toBe(200)
    sendSignal(redis.pid, 'SIGSTOP')
    paused = true
    try {
      const login = await timed(signIn)
      expect(login.reply.status, login.reply.text).toBe(200)
      expect(login.ms).toBeLessThan(ONE_WAIT_BOUND_MS)
      for (const [method, path] of [['DELETE', '/gateway/oauth1/partner/tokens/zed?app=bot'], ['GET', '/gateway/oauth1/partner/authorize?user=zed&app=bot&format=json']] as const) {
        const r = await timed(() => admin(method, path))
        expect(r.reply.status, r.reply.text).toBe(503)
        expect(r.reply.text).toContain('"code":503')
        expect(r.ms, `${method} ${path}`).toBeLessThan(ONE_WAIT_BOUND_MS)
      }
    } finally {
      sendSignal(redis.pid, 'SIGCONT')
      paused = false
    }
  })
})
