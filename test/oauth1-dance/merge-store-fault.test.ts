/**
 * A token exchange with identityToMerge is one outcome: when the merge fails (the store away
 * while the anonymous user's tokens move), the caller gets the store's 503 and no bearer exists
 * (earlier, the bearer was written first and stayed valid until it expired, for a caller told
 * the exchange failed), and its jti is given back, so the caller's retry of the same assertion
 * gets its bearer (before, it was refused as a replay). Real SQLite store, real dance against python3-oauthlib; the fault is
 * the store refusing the merge's write, as an unreachable Redis would.
 */
import { randomUUID } from 'node:crypto'
import type { JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { createOAuth1Feature } from '../../src/dance/feature.js'
import { GatewayError } from '../../src/errors.js'
import type { Runtime } from '../../src/runtime/index.js'
import type { Store } from '../../src/store/index.js'
import { send } from '../support/gateway.js'
import { AUD, botJwt, useDanceGateway } from './dance-gateway.js'
import { ADMIN_TOKEN, authorizeUser, rawValues } from './dance-support.js'

const SECRET = 'merge-fault-test-hs256-secret-of-32b!'
const CALLERS = `callers:\n  required: true\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "${SECRET}"\n      audience: ${AUD}\n      endpoints: ["*"]`

let shared: Store | undefined
// While set, the dance feature's store refuses writes of known users' tokens (the merge's).
let faulty = false

/** `target` with `overrides` in place of some members; the rest bound to `target` (classes with #fields). */
function overlay<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, p) {
      if (Object.hasOwn(overrides, p)) return overrides[p as keyof T]
      const v: unknown = Reflect.get(t, p, t)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    },
  })
}

/** The runtime as the dance feature sees it: the same store, whose merge writes fail while `faulty`. */
function faultableRuntime(runtime: Runtime): Runtime {
  const refuse = (key: string): void => {
    if (faulty && key.startsWith('oauth1:token:')) throw new GatewayError('store_unavailable', 'sqlite store: injected fault')
  }
  return new Proxy(runtime, {
    get(t, p) {
      if (p !== 'store') return Reflect.get(t, p, t)
      const store = t.store
      if (store === undefined) return undefined
      shared = store
      return overlay(store, {
        putIfAbsent: async (key: string, value: string, ttlMs?: number) => (refuse(key), store.putIfAbsent(key, value, ttlMs)),
        put: async (key: string, value: string, ttlMs?: number) => (refuse(key), store.put(key, value, ttlMs)),
      })
    },
  })
}

const jwt = (claims: JWTPayload): Promise<string> => botJwt(SECRET, claims)

const d = useDanceGateway({
  prefix: 'merge-fault-',
  callers: CALLERS,
  start: { features: [({ runtime }) => createOAuth1Feature({ runtime: faultableRuntime(runtime) })] },
})

const exchange = async (assertion: string) =>
  send(d.gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion }) })
const bearerKeys = async (): Promise<string[]> => (await rawValues(shared as Store)).map((r) => r.key).filter((k) => k.startsWith('bearer:'))

describe('token exchange with a merge that fails', () => {
  it('answers 503 and issues no bearer; the anonymous token stays and the same assertion sent again merges it', async () => {
    const { gw, provider } = d
    await authorizeUser(gw.url, provider, '', { authorization: `Bearer ${await jwt({ sub: 'anon-1', isAnonymous: true })}` })
    expect((await rawValues(shared as Store)).map((r) => r.key)).toContain('oauth1:anon:bot/anon-1:partner:')
    const before = await bearerKeys()

    // One assertion, sent again after the failure: its jti was given back (no bearer was handed out).
    const assertion = await jwt({ jti: randomUUID(), sub: 'known-1', identityToMerge: 'anon-1' })
    faulty = true
    const failed = await exchange(assertion)
    faulty = false
    expect([failed.status, failed.json<{ errors: { msg: string }[] }>().errors[0]?.msg]).toEqual([503, 'sqlite store: injected fault'])
    expect(await bearerKeys()).toEqual(before)
    expect((await rawValues(shared as Store)).map((r) => r.key)).toContain('oauth1:anon:bot/anon-1:partner:')

    const retried = await exchange(assertion)
    expect(retried.status, retried.text).toBe(200)
    expect((await exchange(assertion)).json<{ errors: { msg: string }[] }>().errors[0]?.msg).toBe('error verifying the jwt: possibly a replay')
    const call = await send(gw.url, '/proxy/partner/resource/x', { headers: { 'proxy-authorization': `Bearer ${retried.json<{ access_token: string }>().access_token}` } })
    expect(call.status, call.text).toBe(200)
  })
})
