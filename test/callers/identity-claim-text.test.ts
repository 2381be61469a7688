/**
 * Identity claims are bounded, printable text (attacker review, session 33). `jti` had no length
 * limit (a 48 KB jti became a 48 KB replay-store key in Redis or SQLite); `sub` and
 * `identityToMerge` took C0/C1 controls (CR, LF, NUL refused only later, as an upstream header)
 * and Unicode bidi controls, which make one id read as another on the console and in logs; a
 * non-string `iss` was reported as "missing". Each is a 401 `malformed`/`bad_issuer` refusal at
 * the exchange that names the claim and the rule, never the value.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, verifyAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, nowMs, rsaPair, signHs, testApps } from '../support/callers-fixtures.js'
import { send } from '../support/gateway.js'
import { startBotGateway, type BotGateway } from './bot-gateway.js'

const apps = testApps(rsaPair())
const verify = async (over: Record<string, unknown>): Promise<unknown> =>
  verifyAssertion(await signHs(claims('hs-app', over)), apps, { clockSkewSec: 30, claimAliasPrefix: '', now: nowMs, replay: new CallersMemoryStore(nowMs) }).then(
    () => undefined,
    (e: unknown) => e,
  )
// Every control the rule names: C0, DEL, C1, ALM, LRM/RLM, the embeddings and overrides, the isolates.
const CONTROLS = [...Array.from({ length: 0x20 }, (_, i) => i), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i), 0x61c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069].map((c) => String.fromCodePoint(c))
const CONTROL_RULE = 'must not contain control or bidirectional formatting characters'

describe('identity claims at the exchange', () => {
  it('property: a sub, identityToMerge or jti is accepted exactly when it is 1–256 characters of well-formed Unicode without controls (seeded)', async () => {
    const unit = fc.oneof(fc.constantFrom('a', 'é', '\u{1F600}', ' ', '\u200B', '\u00A0'), fc.constantFrom(...CONTROLS))
    const text = fc.oneof(fc.string({ unit, minLength: 1, maxLength: 6 }), fc.integer({ min: 250, max: 300 }).map((n) => 'x'.repeat(n)))
    const claim = fc.constantFrom('sub', 'identityToMerge', 'jti')
    await fc.assert(
      fc.asyncProperty(claim, text, async (name, value) => {
        const err = await verify({ [name]: value })
        const hasControl = CONTROLS.some((c) => value.includes(c))
        if (!hasControl && value.length <= 256) return void expect(err).toBeUndefined()
        expect(err).toBeInstanceOf(GatewayError)
        const e = err as GatewayError
        expect([e.reason, authFailureLabel(e)]).toEqual(['caller_credentials_invalid', 'malformed'])
        expect(e.message).toBe(`error verifying the jwt: "${name}" claim ${value.length > 256 ? 'must be at most 256 characters' : CONTROL_RULE}`)
      }),
      { seed: 3301, numRuns: 400 },
    )
  })

  it('a 48 KB jti is refused before it reaches the replay store', async () => {
    const replay = new CallersMemoryStore(nowMs)
    const jwt = await signHs(claims('hs-app', { jti: 'j'.repeat(48 * 1024) }))
    const err = await verifyAssertion(jwt, apps, { clockSkewSec: 30, claimAliasPrefix: '', now: nowMs, replay }).catch((e: unknown) => e)
    expect((err as Error).message).toBe('error verifying the jwt: "jti" claim must be at most 256 characters')
    expect(await replay.putIfAbsent('probe', '1', 1000)).toBe(true)
  })

  it('a non-string iss says what it is, not "missing"', async () => {
    for (const [iss, kind] of [[42, 'a number'], [['hs-app'], 'an array'], [null, 'null'], [{ a: 1 }, 'an object'], [true, 'a boolean']] as const) {
      const err = (await verify({ iss })) as GatewayError
      expect([err.reason, authFailureLabel(err), err.message]).toEqual(['caller_credentials_invalid', 'bad_issuer', `error verifying the jwt: "iss" claim must be a string (it is ${kind})`])
    }
    const missing = (await verify({ iss: undefined })) as GatewayError
    expect(missing.message).toBe('error verifying the jwt: "iss" claim is missing')
  })
})

describe('through the gateway', () => {
  let gw: BotGateway
  beforeAll(async () => {
    gw = await startBotGateway('claim-text-', 'claim-text-test-hs256-secret-32-bytes!')
  })
  afterAll(() => gw?.close())
  const exchange = async (over: Record<string, unknown>): Promise<Awaited<ReturnType<typeof send>>> =>
    send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await gw.jwt(over) }) })

  it('refusals are standard 401 bodies with a correct Content-Length that never echo the value', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ jti: `SECRETJTI${'j'.repeat(2000)}` }, '"jti" claim must be at most 256 characters'],
      [{ sub: 'SECRETSUB\u202Egnp.exe' }, `"sub" claim ${CONTROL_RULE}`],
      [{ sub: 'SECRETSUB\r\nX-Injected: 1' }, `"sub" claim ${CONTROL_RULE}`],
      [{ identityToMerge: 'SECRETMERGE\u0000' }, `"identityToMerge" claim ${CONTROL_RULE}`],
      [{ iss: 7 }, '"iss" claim must be a string (it is a number)'],
    ]
    for (const [over, msg] of cases) {
      const r = await exchange(over)
      expect(r.status, r.text).toBe(401)
      expect(Number(r.headers['content-length'])).toBe(r.body.length)
      expect(r.json()).toEqual({ errors: [{ msg: `error verifying the jwt: ${msg}`, code: 401 }] })
      expect(r.text).not.toMatch(/SECRET/)
    }
  })

  it('a JWT used directly as the bearer is held to the same rule', async () => {
    const r = await send(gw.url, '/proxy/partner/resource/a', { headers: { authorization: `Bearer ${await gw.jwt({ sub: 'u\u2066x' })}` } })
    expect([r.status, r.json()]).toEqual([401, { errors: [{ msg: `error verifying the jwt: "sub" claim ${CONTROL_RULE}`, code: 401 }] }])
  })
})
