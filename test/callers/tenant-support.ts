/**
 * What the tenant-restriction suites share: one real mTLS upstream that counts every TCP
 * connection and request and reports the client certificate it saw, a tenancy endpoint
 * whose tenant "globex" has its own client bundle, caller apps with and without a tenant
 * rule, and a call helper for each way in (forward proxy, CONNECT-intercepted, route with
 * the tenant header, route `@tenant`).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type Agent } from 'node:http'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { expect } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { storeYaml, type StoreLocation } from '../support/topology.js'
import { rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { TunnelAgent } from '../support/tunnel.js'

export const AUD = 'https://gateway.test'
export const WAYS = ['forward', 'connect', 'route', 'route@'] as const
export type Way = (typeof WAYS)[number]
export const APPS = ['open', 'acme-app', 'claimed', 'both'] as const
export type AppId = (typeof APPS)[number]
export const DEFAULT_SUBJECT = 'CN=bot-runtime,O=mtls-gateway tests'
export const GLOBEX_SUBJECT = 'CN=globex-tenant'
const SEAL = [{ id: 'k1', key: randomBytes(32).toString('base64') }]
const secretOf = (app: string): string => `tenant-suite-secret-of-32-bytes-${app}`

/** The tenant rule of each app as YAML (`tenantsLine` overrides acme-app's, for reloads). */
export function appsYaml(acmeApp = 'tenants: [acme]'): string {
  const line = (id: string, rule: string): string => `    - { clientId: ${id}, hs256Secret: "${secretOf(id)}", audience: "${AUD}", endpoints: [partner]${rule ? `, ${rule}` : ''} }\n`
  return line('open', '') + line('acme-app', acmeApp) + line('claimed', 'tenantClaim: org') + line('both', 'tenants: [acme, initech], tenantClaim: org')
}

/** The model: may `app`, whose caller's `org` claim is `org`, call under `tenant`? */
export function allowed(app: AppId, tenant: string, org: unknown, acmeAppTenants: readonly string[] = ['acme']): boolean {
  const t = tenant.toLowerCase()
  const named = typeof org === 'string' ? [org.toLowerCase()] : Array.isArray(org) ? org.filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase()) : []
  if (app === 'open') return true
  if (app === 'acme-app') return acmeAppTenants.includes(t)
  if (app === 'claimed') return named.includes(t)
  return ['acme', 'initech'].includes(t) && named.includes(t)
}

export interface TenantFixture {
  pki: TestPki
  upstream: RunningServer
  /** The gateway's JWE key (kid gw-1). */
  jweKey: RsaPair
  /** The interception CA certificate (PEM) callers behind HTTPS_PROXY trust. */
  interceptionCa: Buffer
  /** TCP connections and requests the upstream has seen. */
  counts(): { connections: number; requests: number }
  yaml(store: StoreLocation, acmeApp?: string): string
  close(): Promise<void>
}

/** Starts the upstream and writes the PKI and interception CA. */
export async function startTenantFixture(): Promise<TenantFixture> {
  const pki = await createTestPki('p256')
  const globex = pki.writePair('globex', await pki.issue({ subject: 'CN=globex-tenant', issuer: pki.inter, usages: ['clientAuth'] }), { chain: [pki.inter] })
  let requests = 0
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (req, res) => { requests++; echo(req, res) } })
  let connections = 0
  upstream.server.on('connection', () => void connections++)
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  const jweKey = rsaPair()
  const jwePem = pki.write('jwe.pem', jweKey.privatePem)
  const tls = (cert: string, key: string): string => `{ cert: ${cert}, key: ${key}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }`
  return {
    pki, upstream, jweKey,
    interceptionCa: readFileSync(ica.caCert),
    counts: () => ({ connections, requests }),
    yaml: (store, acmeApp) => `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
${storeYaml(store, SEAL)}interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
callers:
  gatewayKeys: [{ kid: gw-1, privateKey: "\${file:${jwePem}}" }]
  apps:
${appsYaml(acmeApp)}profiles:
  - { name: tp, consumerKey: ck, consumerSecret: cs, tenancy: true }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: tp
    tls: ${tls(pki.file('client.crt'), pki.file('client.key'))}
    tenants:
      globex: { tls: ${tls(globex.cert, globex.key)} }
`,
    close: async () => {
      await upstream.close()
      pki.cleanup()
    },
  }
}

const now = (): number => Math.floor(Date.now() / 1000)
const tokens = new Map<string, Promise<string>>()

/** A JWT without `jti` for `app` (used directly as the bearer), with `org` when given; one per (app, org). */
export function bearerFor(app: string, org?: unknown): Promise<string> {
  const key = JSON.stringify([app, org])
  let t = tokens.get(key)
  if (t === undefined) {
    t = new SignJWT({ iss: app, aud: AUD, sub: 'user-1', iat: now(), exp: now() + 3000, ...(org !== undefined ? { org } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secretOf(app)))
    tokens.set(key, t)
  }
  return t
}

/** An assertion with a `jti`, for POST /gateway/token. */
export function assertionFor(app: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: app, aud: AUD, sub: 'user-1', iat: now(), exp: now() + 300, jti: randomBytes(8).toString('hex'), ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(secretOf(app)))
}

export interface CallReply {
  status: number
  text: string
  contentLength: string | undefined
}

/** CONNECT tunnels per (gateway, bearer): the tunnel's bearer names the caller of every inner request. */
export class Tunnels {
  readonly #agents = new Map<string, TunnelAgent>()
  constructor(private readonly fixture: TenantFixture) {}
  agent(gatewayUrl: string, bearer: string): TunnelAgent {
    const key = `${gatewayUrl} ${bearer}`
    let agent = this.#agents.get(key)
    if (agent === undefined) {
      agent = new TunnelAgent({ gatewayPort: Number(new URL(gatewayUrl).port), authority: `api.partner.test:${this.fixture.upstream.port}`, ca: this.fixture.interceptionCa, headers: { 'proxy-authorization': `Bearer ${bearer}` } })
      this.#agents.set(key, agent)
    }
    return agent
  }
  destroy(): void {
    for (const a of this.#agents.values()) a.destroy()
    this.#agents.clear()
  }
}

/**
 * One call under `tenant` on `way`. `decoy` is a tenant header sent along with route `@tenant`
 * (the route's tenant wins; the rule must judge that one).
 */
export async function callUnder(f: TenantFixture, tunnels: Tunnels, gatewayUrl: string, way: Way, bearer: string, tenant: string, decoy?: string, agent?: Agent): Promise<CallReply> {
  const port = f.upstream.port
  if (way === 'connect') {
    const agent = tunnels.agent(gatewayUrl, bearer)
    return new Promise((resolve, reject) => {
      const req = httpRequest({ agent, host: 'api.partner.test', port, path: '/inner', headers: { host: `api.partner.test:${port}`, 'x-gateway-tenant': tenant } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentLength: res.headers['content-length'] }))
      })
      req.on('error', reject)
      req.end()
    })
  }
  const headers: Record<string, string> = way === 'forward' ? { 'proxy-authorization': `Bearer ${bearer}` } : { authorization: `Bearer ${bearer}` }
  if (way !== 'route@') headers['x-gateway-tenant'] = tenant
  else if (decoy !== undefined) headers['x-gateway-tenant'] = decoy
  const target = way === 'forward' ? `http://api.partner.test:${port}/x` : way === 'route' ? '/proxy/partner/x' : `/proxy/partner@${tenant}/x`
  const r = await send(gatewayUrl, target, { headers, ...(agent ? { agent } : {}) })
  const cl = r.headers['content-length']
  return { status: r.status, text: r.text, contentLength: Array.isArray(cl) ? cl[0] : cl }
}

/** Asserts the call reached the upstream with the tenant's bundle (globex has its own). */
export function expectServed(r: CallReply, tenant: string): void {
  expect(r.status, r.text).toBe(200)
  expect((JSON.parse(r.text) as EchoReply).clientSubject).toBe(tenant.toLowerCase() === 'globex' ? GLOBEX_SUBJECT : DEFAULT_SUBJECT)
}

/** Asserts the gateway's 403 envelope (right Content-Length) naming the app and tenant. */
export function expectRefused(r: CallReply, app: string, tenant: string): void {
  expect(r.status, r.text).toBe(403)
  expect(r.contentLength).toBe(String(Buffer.byteLength(r.text)))
  const body = JSON.parse(r.text) as { errors: { msg: string; code: number }[] }
  expect(body).toEqual({ errors: [{ msg: expect.stringMatching(new RegExp(`^caller app "${app}" may not use tenant "${tenant.toLowerCase()}" on endpoint "partner"`)) as unknown as string, code: 403 }] })
}
