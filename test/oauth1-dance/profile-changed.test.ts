/**
 * A dance started under one set of a profile's provider settings and called back after a reload
 * changed them: another consumer key, other token or authorize URLs, another endpoint (the mTLS
 * client that calls the token URLs). The request token and the user's approval belong to the old
 * consumer at the old URLs: sending them to the new ones would hand a provider's one-time approval
 * to another address, and a token obtained so would sign the new consumer's calls. The callback
 * gets the failure page, the dance used up, the provider's access-token URL not called. A reload
 * that changes none of them (the provider's display name; the profile removed and added back the
 * same) leaves the dance to complete. Seeded property over which settings change. A dance an
 * earlier version parked (its record names no settings: a rolling upgrade's old replica started it)
 * completes on this one, as it would have on the old one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { createSealer, openSqliteStore, putRecord, takeRecord } from '../../src/store/index.js'
import { pendingKey } from '../../src/dance/token-keys.js'
import { authorizeLink, CONSUMER, cookieFor, gatewayYaml, newSealKey, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

const SECOND = { key: 'secondgatewayconsumer2', secret: 'second-consumer-secret-9c1e' }
const SETTINGS = ['consumerKey', 'requestTokenUrl', 'accessTokenUrl', 'authorizeUrl', 'endpoint'] as const
type Setting = (typeof SETTINGS)[number]
const PARTNER_PROFILE = /  - name: partner\n    provider: Partner Bank\n[\s\S]*?      mode: per_user\n/

let pki: TestPki
let provider: DanceProvider
let dir: string
let base: string
const sealKey = newSealKey()

beforeAll(async () => {
  pki = await createTestPki()
  // The provider knows both consumers: a changed key is a consumer it would serve.
  provider = await startDanceProvider(pki, { clients: [CONSUMER, SECOND] })
  dir = mkdtempSync(join(tmpdir(), 'dance-profile-changed-'))
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'g.db') }, sealKeys: [{ id: 'k1', key: sealKey }] })
  // A second endpoint on the same partner, with the same client certificate, that the profile may be moved to.
  const endpoint = /  - name: partner\n[\s\S]*?(?=profiles:\n)/.exec(yaml)?.[0] as string
  base = yaml.replace('admin:\n  enabled: false\n', '').replace('profiles:\n', `${endpoint.replace('name: partner', 'name: partner2').replace('    profile: partner\n', '')}profiles:\n`)
})

afterAll(async () => {
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** `base` with `changed` settings of profile "partner" changed, and its display name `name` (a change that must not matter). */
function configWith(changed: readonly Setting[], name: string): string {
  let y = base.replace('provider: Partner Bank\n', `provider: ${name}\n`)
  for (const s of changed) {
    if (s === 'consumerKey') y = y.replace(`consumerKey: ${CONSUMER.key}\n    consumerSecret: "${CONSUMER.secret}"`, `consumerKey: ${SECOND.key}\n    consumerSecret: "${SECOND.secret}"`)
    else if (s === 'endpoint') y = y.replace(`provider: ${name}\n`, `provider: ${name}\n    endpoint: partner2\n`)
    else y = y.replace(new RegExp(`(    ${s}: \\S+)\\n`), '$1?v=2\n')
  }
  return y
}

async function reloadTo(g: OpsGateway, yaml: string): Promise<void> {
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  const before = g.gw.ref.current
  const result = await g.gw.ops?.reload('test')
  expect(g.gw.ref.current, JSON.stringify(result)).not.toBe(before)
}

const accessTokenCalls = async (): Promise<number> => (await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length

/** Starts a dance, runs `between` (reloads), approves, follows the redirect back with the cookie: the page, and whether the provider was asked for an access token. */
async function danceAcross(g: OpsGateway, user: string, between: () => Promise<void>): Promise<{ status: number; text: string; exchanged: boolean; again: string }> {
  const started = await startInBrowser(await authorizeLink(g.gw.url, `user=${user}`), { provider })
  await between()
  const callbackUrl = await provider.decide(started.requestToken, 'approve')
  const calls = await accessTokenCalls()
  const back = (): ReturnType<typeof send> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
  const done = await back()
  const exchanged = (await accessTokenCalls()) > calls
  return { status: done.status, text: done.text, exchanged, again: (await back()).text }
}

describe('a dance whose profile a reload changed', () => {
  it('completes exactly when the consumer key, token and authorize URLs and endpoint are the ones it started under (seeded)', async () => {
    const g = await startOpsGateway(dir, configWith([], 'Partner Bank'), { watch: false })
    try {
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.subarray([...SETTINGS]), async (changed) => {
          run++
          await reloadTo(g, configWith([], `Partner Bank ${run}`))
          const r = await danceAcross(g, `u${run}`, () => reloadTo(g, configWith(changed, `Partner Bank ${run}b`)))
          if (changed.length === 0) {
            expect([r.status, r.exchanged, r.text.includes('Authorization complete')], r.text).toEqual([200, true, true])
          } else {
            expect([r.status, r.exchanged], r.text).toEqual([400, false])
            expect(r.text).toContain('data-result="failure"')
            expect(r.text).toContain('changed while you were at the provider')
            expect(r.text).not.toContain(SECOND.key)
          }
          // Used up either way.
          expect(r.again).toContain('unknown, expired or already completed')
        }),
        { seed: 0xda9ce, numRuns: 12, examples: [[[]], [['consumerKey']], [['accessTokenUrl']], [['endpoint']]] },
      )
    } finally {
      await g.gw.close()
    }
  }, 240_000)

  it('the profile removed and added back: the same settings complete the dance, another consumer key does not', async () => {
    const g = await startOpsGateway(dir, base, { watch: false })
    try {
      const removed = base.replace(PARTNER_PROFILE, '').replace('    profile: partner\n', '').replace(/profiles:\n$/, '')
      const same = await danceAcross(g, 'back-same', async () => {
        await reloadTo(g, removed)
        await reloadTo(g, base)
      })
      expect([same.status, same.exchanged], same.text).toEqual([200, true])
      const other = await danceAcross(g, 'back-other', async () => {
        await reloadTo(g, removed)
        await reloadTo(g, configWith(['consumerKey'], 'Partner Bank'))
      })
      expect([other.status, other.exchanged], other.text).toEqual([400, false])
    } finally {
      await g.gw.close()
    }
  }, 120_000)

  it('a dance an earlier version parked (no settings in its record) completes, as on that version (a rolling upgrade)', async () => {
    const g = await startOpsGateway(dir, base, { watch: false })
    const store = openSqliteStore({ file: join(dir, 'g.db') })
    try {
      const sealer = createSealer([{ id: 'k1', key: Buffer.from(sealKey, 'hex') }], 'k1')
      const started = await startInBrowser(await authorizeLink(g.gw.url, 'user=earlier'), { provider })
      // Rewritten as versions before dance settings wrote it: the same record without `settings`.
      const key = pendingKey(started.requestToken)
      const record = await takeRecord<Record<string, unknown>>(store, sealer, key, ['secret', 'fields', 'settings'])
      expect(typeof record?.settings).toBe('string')
      delete record?.settings
      await putRecord(store, sealer, key, record as Record<string, unknown>, ['secret', 'fields'], 600_000)
      const callbackUrl = await provider.decide(started.requestToken, 'approve')
      const done = await send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      expect([done.status, done.text.includes('Authorization complete')], done.text).toEqual([200, true])
    } finally {
      await store.close()
      await g.gw.close()
    }
  }, 120_000)
})
