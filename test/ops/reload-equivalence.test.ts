/**
 * A reload answers exactly like a fresh start with the same file. For each pair A → B a
 * gateway starts with A and reloads to B; another starts with B; the same probe requests
 * (no credentials, JWT → bearer, JWE → bearer → claim field, anonymous bearer, a per-user
 * call and its authorize link, the admin's dance start, an endpoint that may not exist)
 * must get the same answers from both. Settings only a restart applies make the reload
 * fail, counted, with the gateway answering as before.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CompactEncrypt, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { rsaPair, type RsaPair } from '../support/callers-fixtures.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { eventually, parseMetrics, valueOf } from './helpers.js'

const HS = 'reload-equivalence-hs256-secret-32-bytes'
const AUD = 'https://gateway.test'
const ADMIN = 'reload-equivalence-admin-token'
const KEYS = { k1: randomBytes(32).toString('base64'), k2: randomBytes(32).toString('base64') }

/** The knobs a pair turns. */
interface Variant {
  callers?: boolean
  perUser?: boolean
  storeFile?: string
  sealKeys?: (keyof typeof KEYS)[]
  anonymousTtl?: string
  persistDecryptedClaims?: boolean
  extraEndpoint?: boolean
  listenHost?: string
}

let pki: TestPki
let upstream: RunningServer
let jweKey: RsaPair
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  jweKey = rsaPair()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = mkdtempSync(join(tmpdir(), 'reload-eq-'))
  writeFileSync(join(dir, 'jwe.pem'), jweKey.privatePem)
})

afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

/** `storeDir`: each gateway's own (a shared file let one test's stored links answer another's probes). */
function yamlOf(v: Variant, storeDir: string): string {
  const tls = `    tls: ${clientTlsYaml(pki)}\n`
  const ep = (name: string, extra = ''): string => `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}/${name}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}${tls}`
  const api = `https://api.partner.test:${upstream.port}`
  const keys = (v.sealKeys ?? ['k1']).map((id) => `{ id: ${id}, key: "${KEYS[id]}" }`).join(', ')
  const callers = `callers:
  required: true
  adminToken: ${ADMIN}
  anonymousTtl: ${v.anonymousTtl ?? '30m'}
  persistDecryptedClaims: ${v.persistDecryptedClaims ?? false}
  apps: [{ clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: ["*"] }]
  gatewayKeys: [{ kid: gw-1, privateKey: "\${file:${join(dir, 'jwe.pem')}}" }]
`
  const profiles = `profiles:
  - { name: partner, consumerKey: reloadconsumer, consumerSecret: reloadsecret, requestTokenUrl: ${api}/rt, accessTokenUrl: ${api}/at, authorizeUrl: ${api}/auth, token: { mode: per_user } }
`
  return `listen: { host: ${v.listenHost ?? '127.0.0.1'}, port: 0 }
admin: { enabled: false }
store: { kind: sqlite, file: ${join(storeDir, v.storeFile ?? 'state.db')}, sealKeys: [${keys}] }
${v.callers ? callers : ''}endpoints:
${ep('partner')}${ep('pii', '    fields: [{ type: header, key: X-Pin, value: "{{claims.pin}}" }]\n')}${v.perUser ? ep('peruser', '    profile: partner\n') : ''}${v.extraEndpoint ? ep('extra') : ''}${v.perUser ? profiles : ''}`
}

const now = (): number => Math.floor(Date.now() / 1000)
const jwt = (over: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', iat: now(), exp: now() + 300, jti: randomUUID(), ...over }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))
const jwe = async (over: Record<string, unknown>): Promise<string> =>
  new CompactEncrypt(new TextEncoder().encode(await jwt(over))).setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'gw-1', cty: 'JWT' }).encrypt(jweKey.publicKey)

/** Status and what matters of the body, with ports, link ids and tokens taken out. */
function answer(r: { status: number; text: string }): string {
  let shown = r.text
  try {
    const body = JSON.parse(r.text) as { errors?: { msg: string }[]; token_type?: string; expires_in?: number } & Partial<EchoReply>
    shown = body.errors?.[0]?.msg ?? (body.token_type ? `${body.token_type} ${body.expires_in}` : `${body.url} pin=${String(body.headers?.['x-pin'])}`)
  } catch {
    shown = /<h1[^>]*>([^<]*)</.exec(r.text)?.[1] ?? r.text.slice(0, 80)
  }
  return `${r.status} ${shown.replace(/127\.0\.0\.1:\d+/g, 'GW').replace(/link=[\w-]+/g, 'link=ID')}`
}

/** The probe requests, in order; bearers come from this gateway's own token route. */
async function probe(url: string, o: { anonymousExpiry?: boolean } = {}): Promise<string[]> {
  const out: string[] = []
  const bearerOf = async (assertion: string): Promise<string> => {
    const r = await send(url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
    out.push(`token: ${answer(r)}`)
    return r.status === 200 ? (JSON.parse(r.text) as { access_token: string }).access_token : 'none'
  }
  const call = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> => {
    const r = await send(url, path, { headers })
    out.push(`${path}: ${answer(r)}`)
    return r
  }
  await call('/proxy/partner/open')
  await call('/proxy/partner/bearer', { 'proxy-authorization': `Bearer ${await bearerOf(await jwt())}` })
  await call('/proxy/pii/claims', { 'proxy-authorization': `Bearer ${await bearerOf(await jwe({ pin: '4711' }))}` })
  const anonymous = { 'proxy-authorization': `Bearer ${await bearerOf(await jwt({ sub: 'anon-1', isAnonymous: true }))}`, 'x-gateway-user': 'u9' }
  const perUser = await call('/proxy/peruser/me', anonymous)
  const link = (JSON.parse(perUser.text) as { errors?: { authorizeUrl?: string }[] }).errors?.[0]?.authorizeUrl
  if (link) out.push(`link page: ${answer(await send(url, new URL(link).pathname + new URL(link).search))}`)
  if (link && o.anonymousExpiry) {
    // The anonymous user's link lives callers.anonymousTtl at most: poll for its end.
    const path = new URL(link).pathname + new URL(link).search
    const gone = await eventually(async () => (await send(url, path)).status === 400, 20_000, 'the anonymous link to expire').catch(() => false)
    out.push(`anonymous link expired: ${gone}`)
  }
  out.push(`admin start: ${answer(await send(url, '/gateway/oauth1/partner/authorize?user=u2&app=bot&format=json', { headers: { authorization: `Bearer ${ADMIN}` } }))}`)
  await call('/proxy/extra/x')
  return out
}

interface Started {
  gw: RunningGateway
  file: string
  /** The Prometheus exposition of this gateway's metrics. */
  metrics(): Promise<string>
}

async function start(name: string, v: Variant): Promise<Started> {
  const at = mkdtempSync(join(dir, `${name}-`))
  const ops = createOps({ log: createLog({ level: 'fatal' }), admin: false, watch: false })
  const gw = await startTestGateway(at, yamlOf(v, at), { ops })
  return { gw, file: join(at, 'gateway.yaml'), metrics: () => ops.metrics.registry.metrics() }
}

const PAIRS: [string, Variant, Variant, { anonymousExpiry?: boolean }?][] = [
  ['callers added', {}, { callers: true }],
  ['callers removed', { callers: true }, {}],
  ['per-user profile added', { callers: true }, { callers: true, perUser: true }],
  ['per-user profile and callers added', {}, { callers: true, perUser: true }],
  ['store seal keys rotated', { callers: true, perUser: true }, { callers: true, perUser: true, sealKeys: ['k1', 'k2'] }],
  ['anonymous TTL shortened', { callers: true, perUser: true }, { callers: true, perUser: true, anonymousTtl: '3s' }, { anonymousExpiry: true }],
  ['persistDecryptedClaims turned on', { callers: true }, { callers: true, persistDecryptedClaims: true }],
  ['endpoint added', { callers: true }, { callers: true, extraEndpoint: true }],
  ['endpoint removed', { callers: true, extraEndpoint: true }, { callers: true }],
]

describe('a reload answers like a fresh start with the same file', () => {
  it.each(PAIRS)('%s', async (_name, a, b, options = {}) => {
    const reloaded = await start('a', a)
    const fresh = await start('b', b)
    try {
      writeFileSync(reloaded.file, yamlOf(b, dirname(reloaded.file)))
      expect(await reloaded.gw.ops?.reload('test')).toMatchObject({ ok: true })
      const [x, y] = [await probe(reloaded.gw.url, options), await probe(fresh.gw.url, options)]
      expect(x).toEqual(y)
      // Equal is not enough where both could miss the same thing: each saw the link end.
      if (options.anonymousExpiry) expect(x).toContain('anonymous link expired: true')
    } finally {
      await Promise.all([reloaded.gw.close(), fresh.gw.close()])
    }
  })
})

describe('settings only a restart applies', () => {
  it.each([
    ['store location', { callers: true }, { callers: true, storeFile: 'other.db' }, 'store.file'],
    ['listen address', { callers: true }, { callers: true, listenHost: '127.0.0.2' }, 'listen.host'],
  ] as [string, Variant, Variant, string][])('%s: the reload fails loudly, is counted, and nothing changes', async (_name, a, b, key) => {
    const reloaded = await start('a', a)
    const fresh = await start('b', a)
    try {
      writeFileSync(reloaded.file, yamlOf(b, dirname(reloaded.file)))
      const result = await reloaded.gw.ops?.reload('test')
      expect(result).toEqual({ ok: false, problems: [expect.stringContaining(`${key}: changed, and takes effect only after a restart`)] })
      expect(valueOf(parseMetrics(await reloaded.metrics()), 'mtls_gateway_config_reloads_total', { result: 'failure' })).toBe(1)
      expect(await probe(reloaded.gw.url)).toEqual(await probe(fresh.gw.url))
    } finally {
      await Promise.all([reloaded.gw.close(), fresh.gw.close()])
    }
  })
})
