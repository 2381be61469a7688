/** What the gateway-level Redis store tests share: the caller app that makes the gateway open its store, a token exchange, the teardown. */
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { send, type Reply } from '../support/gateway.js'
import type { Peer } from '../support/peers.js'
import type { TestPki } from '../support/pki.js'
import type { OpsGateway } from '../ops/helpers.js'

export const HS = 's'.repeat(32)
const AUD = 'https://gateway.test'

/** `callers:` with one HS256 app allowed on endpoint `partner` (a config with callers opens its store). */
export const CALLERS = `callers:\n  apps:\n    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }\n`

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

/** Closes what a test started, any of it absent. */
export async function stopAll(g: OpsGateway | undefined, redis: Peer | undefined, pki: TestPki | undefined): Promise<void> {
  await g?.gw.close()
  await redis?.stop()
  pki?.cleanup()
}
