/**
 * A gateway with two endpoints that set a field `acct` from the caller's JWT claim `acct` ("42"):
 * `query` as a query field, `payload` as a payload field, in front of a backend `handler` that
 * models how some framework reads the body. What the body-judging tests (compressed bodies, form
 * charsets) share; `bearer()` is a caller JWT carrying acct 42.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startTestGateway } from './gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from './pki.js'
import { startMtlsServer, type RunningServer } from './tls-server.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'

export interface AcctFieldGateway {
  gw: RunningGateway
  /** A caller JWT whose claim acct is `acct` ("42" unless told). */
  bearer(acct?: string): Promise<string>
  close(): Promise<void>
}

/** `handler` answers in a Node mTLS server; or `startUpstream` starts another (a real peer) with the PKI's files. */
export async function startAcctFieldGateway(handler: (req: IncomingMessage, res: ServerResponse) => void, startUpstream?: (pki: TestPki) => Promise<Pick<RunningServer, 'port' | 'close'>>): Promise<AcctFieldGateway> {
  const pki: TestPki = await createTestPki('p256')
  const upstream = await (startUpstream ?? ((p) => startMtlsServer({ cert: p.file('server-chain.crt'), key: p.file('server.key'), ca: p.file('root.crt'), handler })))(pki)
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, field: string): string => `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    fields:\n      - { type: ${field}, key: acct, value: "{{claims.acct}}" }\n${tls}`
  const gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
callers:
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: ["*"] }
endpoints:
${ep('payload', 'payload')}${ep('query', 'query')}`)
  const now = (): number => Math.floor(Date.now() / 1000)
  return {
    gw,
    bearer: (acct = '42') => new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', acct, iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS)),
    close: async () => {
      await gw.close()
      await upstream.close()
      pki.cleanup()
    },
  }
}
