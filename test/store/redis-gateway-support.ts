/** What the gateway-level Redis store tests share: the caller app that makes the gateway open its store, a token exchange, the teardown. */
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { send, type Reply } from '../support/gateway.js'
import { clientTlsYaml, type TestPki } from '../support/pki.js'
import { rawClient, type SentinelSet } from '../support/redis-servers.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import type { OpsGateway } from '../ops/helpers.js'

export const HS = 's'.repeat(32)
const AUD = 'https://gateway.test'

/** `callers:` with one HS256 app allowed on endpoint `partner` (a config with callers opens its store). */
// The store suites replay assertions by the dozen from one address to check the replay cache across
// failovers and migrations: the failed-exchange throttle (its own tests: test/api/exchange-throttle.test.ts)
// is off here, or those replays' 401s would turn into its 429s within the minute.
export const CALLERS = `callers:\n  failedExchangesPerMinute: 0\n  apps:\n    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }\n`

/** A fresh assertion (its own jti) of that app. */
export function signAssertion(): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub: 'u', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
}

/** POST /gateway/token with `assertion` (default: a fresh one). */
export async function exchangeToken(gatewayUrl: string, assertion?: string): Promise<Reply> {
  const body = JSON.stringify({ assertion: assertion ?? (await signAssertion()) })
  return send(gatewayUrl, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
}

/** The mTLS upstream a test's bearers call (the PKI's server certificate; it requires the gateway's client certificate). */
export function startUpstream(pki: TestPki): Promise<RunningServer> {
  return startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
}

/** Endpoint `partner` (an `endpoints:` item) on a real mTLS upstream: a bearer's call through it answers 200. */
export function partnerEndpointYaml(upstreamPort: number, pki: TestPki): string {
  return `  - { name: partner, url: "https://api.partner.test:${upstreamPort}", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(pki)} }\n`
}

/** `store.redis` lines (four spaces in) for a Sentinel set, with short timeouts so a failover shows within seconds. */
export function sentinelRedisYaml(set: SentinelSet): string {
  return `    sentinel: { addresses: [${set.sentinels.map((s) => `"127.0.0.1:${s.port}"`).join(', ')}], primaryName: ${set.primaryName} }\n    commandTimeout: 1500ms\n    connectTimeout: 1s\n`
}

/** Closes what a test started, any of it absent. */
export async function stopAll(g: OpsGateway | undefined, redis: { stop(): Promise<void> } | undefined, pki: TestPki | undefined, upstream?: { close(): Promise<void> }): Promise<void> {
  await g?.gw.close()
  await upstream?.close()
  await redis?.stop()
  pki?.cleanup()
}

/** Runs `args` on the Sentinel at `port` (the test's own default-user connection). */
export async function onSentinel(port: number, ...args: string[]): Promise<unknown> {
  const c = rawClient(port)
  try {
    return await c.call(...(args as [string, ...string[]]))
  } finally {
    c.disconnect()
  }
}

/** Connections of Redis user `user` subscribed to a channel on the Sentinel at `port` (the failover watch's). */
export async function sentinelSubscribers(port: number, user: string): Promise<number> {
  const list = String(await onSentinel(port, 'CLIENT', 'LIST'))
  return list.split('\n').filter((l) => l.includes(` user=${user} `) && / sub=[1-9]/.test(l)).length
}
