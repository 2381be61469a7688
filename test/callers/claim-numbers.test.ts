/**
 * Numeric claims as JSON text can spell them: `"exp": 1e400` parses as Infinity (an assertion
 * that never expires, used directly as the bearer for ever), and `"nbf": null` is no date at all.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { resolveBearer, verifyCallerAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, HS_SECRET, nowMs, rsaPair, testApps } from '../support/callers-fixtures.js'

const apps = testApps(rsaPair())
const opts = () => ({ apps, keys: new Map(), clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })

/** An HS256 JWT over payload text as written (JSON.stringify cannot write 1e400). */
function rawJwt(payloadText: string): string {
  const input = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`
  return `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`
}
const text = (over: Record<string, unknown>, raw: [string, string]): string => JSON.stringify(claims('hs-app', over)).replace(raw[0], raw[1])

async function refusal(jwt: string): Promise<string[]> {
  const why = (e: unknown): string => (e instanceof GatewayError ? e.message : `unexpected ${String(e)}`)
  return [
    await verifyCallerAssertion(jwt, opts()).then(() => 'accepted', why),
    await resolveBearer(jwt, { store: new CallersMemoryStore(nowMs) }, opts()).then(() => 'accepted', why),
  ]
}

describe('numeric claims', () => {
  it('"exp": 1e400 (Infinity once parsed) is refused at the exchange and as a bearer', async () => {
    const jwt = rawJwt(text({ exp: 1 }, ['"exp":1', '"exp":1e400']))
    expect(await refusal(jwt)).toEqual(Array(2).fill('error verifying the jwt: "exp" claim must be a finite number'))
  })
  it('"nbf": null is malformed, not "not valid yet"', async () => {
    const jwt = rawJwt(text({ nbf: null }, ['', '']))
    expect(await refusal(jwt)).toEqual(Array(2).fill('error verifying the jwt: "nbf" claim must be a number'))
  })
})
