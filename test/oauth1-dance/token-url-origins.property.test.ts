/**
 * Destination integrity of a profile's token calls: an endpoint's `resolve`, `serverName` and
 * `pins` name its own origin, so they never reach a token URL on another one. Real TLS servers on
 * 127.0.0.1–3 (one port per origin, every address listening on it) record the address each call
 * was dialled at, the SNI and the client certificate presented; generated endpoint/profile
 * combinations are called through the dance's own callTokenUrl and held to the documented rule.
 * Before the rule, a token URL on another host was dialled at the profile endpoint's `resolve`
 * address with its `serverName` (and pins), and an endpoint configured for that host was ignored.
 */
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { callTokenUrl } from '../../src/dance/provider.js'
import { compileGateway, type Gateway } from '../../src/gateway/index.js'
import { spkiPin } from '../../src/tls/index.js'
import { send, startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { ADMIN_TOKEN, endpointTlsYaml } from './dance-support.js'

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const
const P_ADDRESS = '127.0.0.2' // endpoint p's resolve
const E_ADDRESS = '127.0.0.3' // endpoint e's resolve
const NAMES = ['localhost', '127.0.0.1', 'api.p.test', 'sni.p.test', 'auth.e.test', 'sni.e.test']

interface Seen { address: string; port: number; sni: string | false; client: string | null; path: string }

let pki: TestPki
const servers: Server[] = []
const seen: Seen[] = []
/** One port per origin: p's, e's and the foreign one's, each listened on at every address. */
const ports = { p: 0, e: 0, x: 0 }
let pPin = ''

/** Listens on `port` (0: a free one, then the same on the other addresses) at every address; p's address serves the pinned certificate. */
async function listenEverywhere(certs: { pinned: { cert: Buffer; key: Buffer }; other: { cert: Buffer; key: Buffer } }, ca: Buffer): Promise<number> {
  let port = 0
  for (const address of ADDRESSES) {
    const server = createServer({ ...(address === P_ADDRESS ? certs.pinned : certs.other), ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const s = req.socket as TLSSocket
      const peer = s.getPeerCertificate()
      seen.push({ address, port: s.localPort ?? 0, sni: (s as TLSSocket & { servername: string | false }).servername, client: peer?.subject ? String(peer.subject.CN) : null, path: req.url ?? '' })
      req.resume()
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' }).end('oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true')
    })
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, address, () => resolve()))
    port = (server.address() as AddressInfo).port
    servers.push(server)
  }
  return port
}

beforeAll(async () => {
  pki = await createTestPki('p256', NAMES)
  const other = await pki.issue({ subject: 'CN=other.server', issuer: pki.inter, usages: ['serverAuth'], names: NAMES })
  const o = pki.writePair('other-server', other, { chain: [pki.inter] })
  const eClient = await pki.issue({ subject: 'CN=e-client', issuer: pki.inter, usages: ['clientAuth'] })
  pki.writePair('e-client', eClient)
  const certs = {
    pinned: { cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')) },
    other: { cert: readFileSync(o.cert), key: readFileSync(o.key) },
  }
  const ca = readFileSync(pki.file('root.crt'))
  for (const k of ['p', 'e', 'x'] as const) ports[k] = await listenEverywhere(certs, ca)
  pPin = spkiPin(new X509Certificate(readFileSync(pki.file('server.crt'))).publicKey.export({ type: 'spki', format: 'der' }))
})

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections() })))
  pki?.cleanup()
})

/** Where a token URL points: p's origin, e's origin, a host no endpoint has (localhost), or e's host when no endpoint e exists. */
type Where = 'p' | 'e' | 'x'

interface Scenario {
  hasE: boolean
  pServerName: boolean
  eServerName: boolean
  pPins: boolean
  explicitEndpoint: boolean
  onEndpointServer: boolean
  request: Where
  access: Where
}

function tokenUrl(where: Where, path: string): string {
  if (where === 'p') return `https://api.p.test:${ports.p}/${path}`
  if (where === 'e') return `https://auth.e.test:${ports.e}/${path}`
  return `https://localhost:${ports.x}/${path}`
}

const tls = (client: string, o: { serverName?: string; pins?: string[] }): string => endpointTlsYaml(pki, client, o)

function yaml(s: Scenario): string {
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
callers: { required: false }
endpoints:
  - name: p
    url: https://api.p.test:${ports.p}
    resolve: ${P_ADDRESS}
    allowPrivate: true
    profile: tp${tls('client', { ...(s.pServerName ? { serverName: 'sni.p.test' } : {}), ...(s.pPins ? { pins: [pPin] } : {}) })}
${s.hasE ? `  - name: e
    url: https://auth.e.test:${ports.e}
    resolve: ${E_ADDRESS}
    allowPrivate: true${tls('e-client', s.eServerName ? { serverName: 'sni.e.test' } : {})}` : ''}
profiles:
  - name: tp
    consumerKey: ck
    consumerSecret: cs
    requestTokenUrl: ${tokenUrl(s.request, 'request_token')}
    accessTokenUrl: ${tokenUrl(s.access, 'access_token')}
${s.explicitEndpoint ? '    endpoint: p\n' : ''}${s.onEndpointServer ? '    tokenUrlsOnEndpointServer: true\n' : ''}`
}

/** What the rule says one call must look like at the server; undefined: it must reach no server. */
function expected(s: Scenario, where: Where, path: string): Seen | undefined {
  const url = new URL(tokenUrl(where, path))
  const port = Number(url.port)
  const viaP = { address: P_ADDRESS, port, sni: s.pServerName ? 'sni.p.test' : url.hostname, client: 'bot-runtime', path: `/${path}` }
  if (s.onEndpointServer || where === 'p') return viaP
  if (where === 'e' && s.hasE) return { address: E_ADDRESS, port, sni: s.eServerName ? 'sni.e.test' : 'auth.e.test', client: 'e-client', path: `/${path}` }
  // Another origin, no endpoint of its own: dialled by its own name with p's bundle (auth.e.test resolves nowhere).
  return where === 'x' ? { address: '127.0.0.1', port, sni: 'localhost', client: 'bot-runtime', path: `/${path}` } : undefined
}

/** Only localhost resolves (to 127.0.0.1): every other name is dialled only through a `resolve`. */
const dns = ((host: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, a: { address: string; family: number }[]) => void) => {
  if (host === 'localhost') cb(null, [{ address: '127.0.0.1', family: 4 }])
  else cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), [])
}) as NonNullable<Parameters<typeof compileGateway>[1]>['resolve']

async function call(gateway: Gateway, which: 'requestTokenUrl' | 'accessTokenUrl'): Promise<{ status: number } | { error: unknown }> {
  const profile = gateway.profiles.get('tp')!
  try {
    const reply = await callTokenUrl(gateway, profile, which, which === 'requestTokenUrl' ? { callback: 'https://gw.test/gateway/oauth1/callback' } : { token: 't', tokenSecret: 's', verifier: 'v' })
    return { status: reply.status }
  } catch (error) {
    return { error }
  }
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  hasE: fc.boolean(),
  pServerName: fc.boolean(),
  eServerName: fc.boolean(),
  pPins: fc.boolean(),
  explicitEndpoint: fc.boolean(),
  onEndpointServer: fc.boolean(),
  request: fc.constantFrom<Where>('p', 'e', 'x'),
  access: fc.constantFrom<Where>('p', 'e', 'x'),
})

describe('a profile\'s token calls: each origin dialled and identified by its own settings', () => {
  it('address, SNI and client certificate per origin; the endpoint\'s resolve, serverName and pins only on its own origin or when the profile says so (60 seeded configs)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const gateway = compileGateway(parseConfig('/tmp/token-url-origins.yaml', yaml(s)), { resolve: dns })
        try {
          for (const [which, where, path] of [['requestTokenUrl', s.request, 'request_token'], ['accessTokenUrl', s.access, 'access_token']] as const) {
            seen.length = 0
            const result = await call(gateway, which)
            const want = expected(s, where, path)
            if (want === undefined) {
              expect(result, `${which} on ${where}`).toHaveProperty('error')
              expect(seen).toEqual([])
            } else {
              expect(result, `${which} on ${where}: ${'error' in result ? String(result.error) : ''}`).toEqual({ status: 200 })
              expect(seen).toEqual([want])
            }
          }
        } finally {
          await gateway.close()
        }
      }),
      { seed: 0x70c3e5, numRuns: 60 },
    )
  }, 240_000)
})

describe('the running gateway\'s profile test', () => {
  it('calls a token URL on another endpoint\'s origin over that endpoint, and one on a host no endpoint has by its own name, p\'s pins left at home', async () => {
    const s: Scenario = { hasE: true, pServerName: true, eServerName: false, pPins: true, explicitEndpoint: true, onEndpointServer: false, request: 'e', access: 'p' }
    const text = yaml(s).replace('callers: { required: false }', `callers: { required: false, adminToken: ${ADMIN_TOKEN} }`) + `  - name: tx
    endpoint: p
    consumerKey: ck
    consumerSecret: cs
    requestTokenUrl: ${tokenUrl('x', 'request_token')}
`
    const dir = mkdtempSync(join(tmpdir(), 'token-url-origins-'))
    const gw = await startTestGateway(dir, `store: { kind: sqlite, file: ${join(dir, 'state.db')} }\n${text}`)
    try {
      for (const [profile, want] of [['tp', expected(s, 'e', 'request_token')], ['tx', expected(s, 'x', 'request_token')]] as const) {
        seen.length = 0
        const test = await send(gw.url, `/gateway/oauth1/${profile}/test`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        expect(test.json<{ ok: boolean }>().ok, test.text).toBe(true)
        expect(seen).toEqual([want])
      }
    } finally {
      await gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
