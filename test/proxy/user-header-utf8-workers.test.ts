/**
 * X-Gateway-User read as UTF-8 by the real gateway with --workers 2, before and after a hot
 * reload: each user's call is signed with the token stored for that user's id (as the dance, the
 * console and authorize links key it), a token an earlier version stored under the header's
 * Latin-1 reading is moved to the UTF-8 id, and bytes that are not UTF-8 are a 400 that reaches
 * no backend. Real SQLite file, real mTLS backend.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenRepo, tokenKey } from '../../src/dance/index.js'
import { createSealer, openSqliteStore, parseSealKey } from '../../src/store/index.js'
import { eventually } from '../support/eventually.js'
import { send } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { echo, startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'

const SEAL_KEY = randomBytes(32).toString('base64')
/** What an earlier version made of `id` sent UTF-8 encoded in X-Gateway-User: its bytes read as Latin-1. */
const latin1Reading = (id: string): string => Buffer.from(id, 'utf8').toString('latin1')
const sealer = createSealer([{ id: 'k1', key: parseSealKey(SEAL_KEY) }], 'k1')

let pki: TestPki
let upstream: RunningServer
let calls = 0
let dir: string
let config: string
let gp: GatewayProcess

const yaml = (timeout: string): string => `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
store: { kind: sqlite, file: ${join(dir, 'state.db')}, sealKeys: [{ id: k1, key: "${SEAL_KEY}" }] }
callers: { required: false }
endpoints:
  - name: partner
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: partner
    timeouts: { response: ${timeout} }
    tls: ${clientTlsYaml(pki)}
profiles:
  - { name: partner, consumerKey: utf8consumer, consumerSecret: utf8secret, requestTokenUrl: https://api.partner.test:${upstream.port}/rt, accessTokenUrl: https://api.partner.test:${upstream.port}/at, authorizeUrl: https://api.partner.test:${upstream.port}/auth, token: { mode: per_user } }
`

/** Saves `user`'s token `tok-<n>` in the gateway's SQLite file from this process (another writer, as a second instance is). */
async function store(user: string, token: string): Promise<void> {
  const s = openSqliteStore({ file: join(dir, 'state.db') })
  try {
    await createTokenRepo({ store: s, sealer, anonymousTtlMs: 60_000 }).saveToken({ space: '', profile: 'partner', user, anonymous: false }, { token, tokenSecret: `${token}-secret`, obtainedAt: Date.now() })
  } finally {
    await s.close()
  }
}
async function tokenKeys(): Promise<string[]> {
  const s = openSqliteStore({ file: join(dir, 'state.db') })
  try {
    return (await s.keys('oauth1:token:')).sort()
  } finally {
    await s.close()
  }
}
const key = (user: string): string => tokenKey({ space: '', profile: 'partner', user, anonymous: false })

/** A call naming `user` in X-Gateway-User as these bytes (Node's client sends a string one byte per character). */
const callAs = (bytes: Buffer) => send(gp.url, '/proxy/partner/who', { headers: { 'x-gateway-user': bytes.toString('latin1') } })
/** The oauth_token the backend saw. */
const tokenSeen = (text: string): string | undefined => /oauth_token="([^"]*)"/.exec(String((JSON.parse(text) as EchoReply).headers.authorization))?.[1]

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: (req, res) => (calls++, echo(req, res)) })
  dir = mkdtempSync(join(tmpdir(), 'user-header-utf8-'))
  config = join(dir, 'gateway.yaml')
  writeFileSync(config, yaml('30s'))
  await store('josé', 'tok-jose')
  await store('😀 ünïcode', 'tok-emoji')
  // What an earlier version stored for a caller sending "zoë" in UTF-8: the Latin-1 reading's key.
  await store(latin1Reading('zoë'), 'tok-zoe')
  gp = await spawnGateway(config, ['--workers', '2'])
}, 120_000)

afterAll(async () => {
  await gp?.stop()
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Every case, several times over (new connections, so both workers answer: their access lines say so). */
async function checkEveryCase(users: Record<string, string>): Promise<void> {
  const from = gp.output.length
  for (let round = 0; round < 3; round++) {
    for (const [user, token] of Object.entries(users)) {
      const r = await callAs(Buffer.from(user, 'utf8'))
      expect(r.status, r.text).toBe(200)
      expect(tokenSeen(r.text), user).toBe(token)
    }
    const before = calls
    for (const bytes of [Buffer.from('jos\xe9', 'latin1'), Buffer.from([0x6a, 0xc3]), Buffer.from([0xed, 0xa0, 0x80])]) {
      const r = await callAs(bytes)
      expect(r.status, r.text).toBe(400)
      expect(r.text).toBe('{"errors":[{"msg":"X-Gateway-User is not valid UTF-8: send its text UTF-8 encoded (the gateway reads header text in no other encoding)","code":400}]}')
      expect(Number(r.headers['content-length'])).toBe(r.body.length)
    }
    expect(calls).toBe(before)
  }
  // Each worker writes its access lines in batches (at most a quarter second late): wait for all of them.
  const served = Object.keys(users).length * 3
  const pids = await eventually(() => {
    const lines = gp.logEntries(from).filter((e) => e.msg === 'request' && e.status === 200)
    return lines.length === served && new Set(lines.map((e) => e.pid))
  }, 10_000, `${served} access lines of the calls answered 200`)
  expect(pids.size).toBe(2)
}

describe('X-Gateway-User is UTF-8 with --workers 2', () => {
  it('each user is the UTF-8 id\'s user on both workers; a former Latin-1 key moves to it; bytes not UTF-8 are a 400 with no upstream call', async () => {
    await checkEveryCase({ josé: 'tok-jose', '😀 ünïcode': 'tok-emoji', zoë: 'tok-zoe' })
    expect(await tokenKeys()).toEqual([key('josé'), key('zoë'), key('😀 ünïcode')].sort())
  }, 120_000)

  it('the same after a hot reload (a former key written before it moves too)', async () => {
    await store(latin1Reading('ñandú'), 'tok-nandu')
    const from = gp.output.length
    writeFileSync(config, yaml('25s'))
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
    await checkEveryCase({ josé: 'tok-jose', zoë: 'tok-zoe', ñandú: 'tok-nandu' })
    expect(await tokenKeys()).toEqual([key('josé'), key('zoë'), key('ñandú'), key('😀 ünïcode')].sort())
  }, 120_000)
})
