/**
 * Identity claims are well-formed Unicode (review rev-L F3). JSON's "\uD800" escape carries an
 * unpaired surrogate into `sub`, `jti` or `identityToMerge`; such a value cannot be URI-encoded
 * into a token key (encodeURIComponent throws URIError: the dance's start, every per-user call
 * and the merge after POST /gateway/token answered 500), and the stores write keys as UTF-8
 * with U+FFFD in its place, so two different jtis shared one replay key. Seeded property: an
 * assertion's identity is either refused as malformed (401) or usable as a key that survives
 * the stores' UTF-8 round trip unchanged.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { verifyAssertion } from '../../src/callers/index.js'
import { tokenKey, userPrefix } from '../../src/dance/token-keys.js'
import { jtiKey } from '../../src/callers/jti.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, nowMs, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'
import { send } from '../support/gateway.js'
import { startBotGateway, type BotGateway } from './bot-gateway.js'

const apps = testApps(rsaPair())
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('utf8')

describe('identity claims are well-formed Unicode', () => {
  it('property: a sub, jti or identityToMerge is refused (401 malformed) or makes keys that encode and round-trip through UTF-8 (seeded)', async () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', ':', '%', '/', 'é', '\u{1F600}', '\uD800', '\uDBFF', '\uDC00', '\uDFFF'), minLength: 1, maxLength: 5 })
    await fc.assert(
      fc.asyncProperty(text, text, text, async (sub, jti, merge) => {
        const jwt = await signHs(claims('hs-app', { sub, jti, identityToMerge: merge }))
        const r = await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', now: nowMs, replay: new CallersMemoryStore(nowMs) }).then(
          (caller) => ({ caller }),
          (e: unknown) => ({ e }),
        )
        if ('e' in r) {
          expect(r.e).toBeInstanceOf(GatewayError)
          expect((r.e as GatewayError).reason).toBe('caller_credentials_invalid')
          return
        }
        const { caller } = r
        const key = tokenKey({ space: 'hs-app', profile: 'p', user: caller.sub, anonymous: false })
        expect(utf8(key)).toBe(key)
        expect(utf8(userPrefix('hs-app', caller.identityToMerge ?? merge, true))).toBe(userPrefix('hs-app', caller.identityToMerge ?? merge, true))
        const replay = jtiKey(caller.appId, caller.jti ?? '')
        expect(utf8(replay)).toBe(replay)
      }),
      { seed: 2325, numRuns: 300 },
    )
  })
  it('names the claim in the refusal', async () => {
    const jwt = await signHs(claims('hs-app', { sub: 'u\uD800' }))
    await expect(verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', now: nowMs })).rejects.toThrow('error verifying the jwt: "sub" claim must be well-formed Unicode (it holds an unpaired surrogate)')
  })
})

describe('an unpaired surrogate in an identity claim through the gateway', () => {
  let gw: BotGateway
  beforeAll(async () => {
    gw = await startBotGateway('surrogate-', 'surrogate-test-hs256-secret-of-32-bytes!')
  })
  afterAll(() => gw?.close())
  const jwt = (over: Record<string, unknown>): Promise<string> => gw.jwt(over)
  it('a per-user call, the dance\'s start and a merge answer 401 naming the claim, not 500', async () => {
    const call = await send(gw.url, '/proxy/partner/resource/a', { headers: { authorization: `Bearer ${await jwt({ sub: 'u\uD800' })}` } })
    expect([call.status, call.json<{ errors: { msg: string }[] }>().errors[0]?.msg]).toEqual([401, expect.stringContaining('"sub" claim must be well-formed Unicode')])
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize?format=json', { headers: { authorization: `Bearer ${await jwt({ sub: 'u\uDC00' })}` } })
    expect([start.status, start.json<{ errors: { msg: string }[] }>().errors[0]?.msg]).toEqual([401, expect.stringContaining('"sub" claim must be well-formed Unicode')])
    const merge = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await jwt({ identityToMerge: 'a\uD800' }) }) })
    expect([merge.status, merge.json<{ errors: { msg: string }[] }>().errors[0]?.msg]).toEqual([401, expect.stringContaining('"identityToMerge" claim must be well-formed Unicode')])
  })
})
