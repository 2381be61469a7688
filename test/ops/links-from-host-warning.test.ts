/**
 * A per-user profile with neither `listen.publicUrl` nor its own `callbackUrl` builds its
 * authorize links and callback on the Host header callers send: the gateway says so in one warning
 * per such profile when it adopts a config (start and reload), and not for profiles that have one.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { startOpsGateway, type OpsGateway } from './helpers.js'

const API = 'https://api.partner.test:8443'
const KEY = 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc='
let pki: TestPki
let g: OpsGateway

const profile = (name: string, extra = ''): string =>
  `  - { name: ${name}, consumerKey: ck, consumerSecret: cs, requestTokenUrl: ${API}/rt, accessTokenUrl: ${API}/at, authorizeUrl: ${API}/auth, token: { mode: per_user }${extra} }\n`
const CALLBACK = ', callbackUrl: "https://gateway.example/gateway/oauth1/callback"'
const yaml = (o: { publicUrl?: boolean; hostedCallback?: boolean } = {}): string => {
  const tls = clientTls(pki)
  const names = ['hosted', 'own-callback', 'static-one']
  return `listen: { host: 127.0.0.1, port: 0${o.publicUrl ? ', publicUrl: "https://gateway.example"' : ''} }\nadmin: { host: 127.0.0.1, port: 0 }\n` +
    `store: { kind: sqlite, file: ${join(pki.dir, 'state.db')}, sealKeys: [{ id: k1, key: "${KEY}" }] }\n` +
    `profiles:\n${profile('hosted', o.hostedCallback ? CALLBACK : '')}${profile('own-callback', CALLBACK)}${profile('static-one').replace('{ mode: per_user }', '{ mode: static, token: t, tokenSecret: s }')}` +
    `endpoints:\n${names.map((n) => endpointYaml(n, 8443, tls, `    profile: ${n}\n`)).join('')}`
}

const warnings = (from = 0): Record<string, unknown>[] =>
  g.lines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => typeof e.msg === 'string' && e.msg.startsWith('per-user profile without listen.publicUrl'))

beforeAll(async () => {
  pki = await createTestPki()
  g = await startOpsGateway(pki.dir, yaml(), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

describe('a per-user profile whose links follow the Host header', () => {
  it('is one warning at start, naming it; not the one with its own callbackUrl, nor a static profile', () => {
    expect(warnings().map((e) => [e.level, e.profile])).toEqual([['warn', 'hosted']])
  })

  it('a reload that gives the profile its own callbackUrl: no warning then (and the reload did log)', async () => {
    const before = g.lines.length
    writeFileSync(join(pki.dir, 'gateway.yaml'), yaml({ hostedCallback: true }))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect(g.lines.length).toBeGreaterThan(before)
    expect(warnings(before)).toEqual([])
  })

  it('a gateway started with listen.publicUrl: no warning', async () => {
    const dir = join(pki.dir, 'public')
    mkdirSync(dir)
    const other = await startOpsGateway(dir, yaml({ publicUrl: true }).replace(join(pki.dir, 'state.db'), join(dir, 'state.db')), { watch: false })
    try {
      // The same profiles as the first test's gateway, which warned for "hosted".
      const lines = other.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(lines.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('per-user profile without'))).toEqual([])
    } finally {
      await other.gw.close()
    }
  })
})
