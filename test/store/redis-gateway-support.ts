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

/** POST /gateway/token with a fresh assertion (its own jti) of that app. */
export async function exchangeToken(gatewayUrl: string): Promise<Reply> {
  const now = Math.floor(Date.now() / 1000)
  const assertion = await new SignJWT({ iss: 'bot', aud: AUD, sub: 'u', jti: randomUUID(), iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
  return send(gatewayUrl, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
}

/** Closes what a test started, any of it absent. */
export async function stopAll(g: OpsGateway | undefined, redis: Peer | undefined, pki: TestPki | undefined): Promise<void> {
  await g?.gw.close()
  await redis?.stop()
  pki?.cleanup()
}
