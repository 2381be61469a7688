/**
 * The rig of the own-credential properties (own-credential-case, own-credential-encoded): a gateway
 * whose callers present caller JWTs without `jti` directly as the credential (no bearer tag: only the
 * own-credential check can know them), in front of a real mTLS upstream that records, per `x-case`
 * header, the request line and every header line it received.
 */
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { SignJWT } from 'jose'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki } from '../support/pki.js'
import { startMtlsServer } from '../support/tls-server.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'

/** A running rig: what the upstream `received` per case, the `jwts` callers present, and `close`. */
export interface OwnCredentialRig {
  readonly gw: RunningGateway
  readonly upstreamPort: number
  /** JWTs without jti, each accepted directly as the credential. */
  readonly jwts: readonly string[]
  /** Per `x-case`: the request line, then `name: value` per header line as received. */
  readonly received: Map<string, string>
  close(): Promise<void>
}

async function jwtFor(sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: 'bot', aud: AUD, sub, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
}

/**
 * Starts the upstream and the gateway (endpoint `partner` at `https://api.partner.test:<port>/base`,
 * four JWTs). `open`: no `callers` section (callers on this machine are served, and whatever a
 * `Proxy-Authorization: Bearer` carries is the request's own credential, any text).
 */
export async function startOwnCredentialRig(o: { open?: boolean } = {}): Promise<OwnCredentialRig> {
  const received = new Map<string, string>()
  const record = (req: IncomingMessage, res: ServerResponse): void => {
    const lines = [`${req.method ?? ''} ${req.url ?? ''}`]
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i] ?? ''}: ${req.rawHeaders[i + 1] ?? ''}`)
    received.set(String(req.headers['x-case'] ?? `unmarked-${received.size}`), lines.join('\n'))
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
  }
  const pki = await createTestPki('p256')
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: record })
  const gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
${o.open === true ? '' : `callers:
  required: true
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [partner] }
`}endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}/base
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${clientTlsYaml(pki)}
`)
  const jwts = await Promise.all(Array.from({ length: 4 }, (_, i) => jwtFor(`user-${i}`)))
  return {
    gw,
    upstreamPort: upstream.port,
    jwts,
    received,
    close: async () => {
      await gw.close()
      await upstream.close()
      pki.cleanup()
    },
  }
}
