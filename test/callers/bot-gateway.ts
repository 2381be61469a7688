/**
 * A gateway (in this process) for the dance's provider, SQLite store, callers required, and one
 * HS256 caller app "bot" (all endpoints), with a signer of bot's assertions: what suites probing
 * the caller API through the wire share.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { startTestGateway } from '../support/gateway.js'
import { createTestPki } from '../support/pki.js'
import { gatewayYaml, startDanceProvider } from '../oauth1-dance/dance-support.js'

export const BOT_AUDIENCE = 'https://gateway.test'

export interface BotGateway {
  url: string
  /** An HS256 assertion of bot for sub "u1", valid five minutes from now; `over` replaces or adds claims. */
  jwt(over?: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

export async function startBotGateway(dirPrefix: string, secret: string): Promise<BotGateway> {
  const pki = await createTestPki()
  const provider = await startDanceProvider(pki)
  const dir = mkdtempSync(join(tmpdir(), dirPrefix))
  const callers = `callers:\n  required: true\n  apps:\n    - clientId: bot\n      hs256Secret: "${secret}"\n      audience: ${BOT_AUDIENCE}\n      endpoints: ["*"]`
  const gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers }))
  return {
    url: gw.url,
    jwt(over = {}) {
      const t = Math.floor(Date.now() / 1000)
      return new SignJWT({ iss: 'bot', aud: BOT_AUDIENCE, sub: 'u1', iat: t, exp: t + 300, ...over }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
    },
    async close() {
      await gw.close()
      await provider.close()
      pki.cleanup()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
