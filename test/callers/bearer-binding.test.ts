/**
 * A stored bearer against settings changed since its exchange (bearer-binding.ts): RSA1_5 turned
 * off, another claimAliasPrefix, a shorter bearerTtl; records of earlier versions (without the facts
 * a record now keeps) included. The alias rule is held to a property: whenever a fresh exchange of
 * the assertion would read `jti`, `iss` or `sub` otherwise, the bearer ends.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, issueBearer, resolveBearer, verifyAssertion, type AssertedCaller, type ResolveOptions, type Sealer } from '../../src/callers/index.js'
import { aliasRefusal } from '../../src/callers/bearer-binding.js'
import { resolveClaimAliases } from '../../src/callers/claim-aliases.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, rsaPair, signRs, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const sealer: Sealer = { seal: (s) => `sealed:${Buffer.from(s).toString('base64')}`, open: (s) => Buffer.from(s.replace(/^sealed:/, ''), 'base64').toString() }

function setup(rsa15: boolean): { stores: { store: CallersMemoryStore; claimsSealer: Sealer; now: () => number }; opts: ResolveOptions; clock: { ms: number } } {
  const clock = { ms: NOW_SEC * 1000 }
  const now = (): number => clock.ms
  return { stores: { store: new CallersMemoryStore(now), claimsSealer: sealer, now }, opts: { apps: testApps(rs, { rsa15 }), clockSkewSec: 30, claimAliasPrefix: 'kore_', now }, clock }
}

async function caller(over: Record<string, unknown> = {}, viaJwe = false): Promise<AssertedCaller> {
  const c = await verifyAssertion(await signRs(claims('rs-app', over), rs.privateKey), testApps(rs), { clockSkewSec: 30, claimAliasPrefix: 'kore_', now: () => NOW_SEC * 1000 })
  return viaJwe ? { ...c, viaJwe: true } : c
}

/** A record as an earlier version wrote it: in clear (no seal keys), none of the facts records now keep. */
async function legacyBearer(store: CallersMemoryStore, c: AssertedCaller): Promise<string> {
  const token = Buffer.alloc(32, Math.floor(Math.random() * 256)).toString('base64url')
  const id = createHash('sha256').update(token).digest('hex')
  const record = c.viaJwe ? { caller: { ...c, claims: { iss: c.claims['iss'], sub: c.sub, aud: c.claims['aud'] } }, expiresAt: NOW_SEC * 1000 + 60_000, claimsSealed: true } : { caller: c, expiresAt: NOW_SEC * 1000 + 60_000 }
  await store.put(`bearer:${id}`, JSON.stringify(record), 60_000)
  if (c.viaJwe) await store.put(`bearer-claims:${id}`, sealer.seal(JSON.stringify(c.claims), '') as string, 60_000)
  return token
}

async function outcome(p: Promise<AssertedCaller>): Promise<string> {
  return p.then((c) => `ok ${c.sub}`, (e: unknown) => (e instanceof GatewayError ? `${e.reason} ${authFailureLabel(e) ?? ''}: ${e.message}` : String(e)))
}

describe('RSA1_5 turned off', () => {
  it('ends the bearers of RSA1_5 assertions, not RSA-OAEP, JWT or earlier versions\' JWE ones (algorithm unknown)', async () => {
    const on = setup(true)
    const jwe = await caller({}, true)
    const rsa15 = (await issueBearer(jwe, on.stores, 60, undefined, { jweAlg: 'RSA1_5' })).access_token
    const oaep = (await issueBearer(jwe, on.stores, 60, undefined, { jweAlg: 'RSA-OAEP' })).access_token
    const plain = (await issueBearer(await caller(), on.stores, 60)).access_token
    const legacyJwe = await legacyBearer(on.stores.store, jwe)
    const legacyJwt = await legacyBearer(on.stores.store, await caller())
    for (const t of [rsa15, oaep, plain, legacyJwe, legacyJwt]) expect(await outcome(resolveBearer(t, on.stores, on.opts))).toBe('ok user-1')
    const off = { ...on.opts, apps: testApps(rs, { rsa15: false }) }
    expect(await outcome(resolveBearer(rsa15, on.stores, off))).toBe('caller_credentials_invalid app_rsa15_disallowed: bearer token was issued for an RSA1_5 JWE assertion, and app "rs-app" no longer allows RSA1_5 (allowRsa15Jwe): exchange a new assertion')
    // An earlier version's JWE record does not say its algorithm: it lives out its expiry (an upgrade signs no JWE app's users out).
    for (const t of [oaep, plain, legacyJwe, legacyJwt]) expect(await outcome(resolveBearer(t, on.stores, off))).toBe('ok user-1')
  })
  it('a JWE caller\'s bearer cannot be issued without its algorithm (it would read as an earlier version\'s)', async () => {
    const { stores } = setup(true)
    await expect(issueBearer(await caller({}, true), stores, 60)).rejects.toThrow(TypeError)
  })
})

describe('a changed claimAliasPrefix', () => {
  it('ends a bearer whose identity came from an alias the prefix no longer reads, or that a new alias would change; JWE claims are judged whole', async () => {
    const { stores, opts } = setup(true)
    const aliasedJwe = await caller({ sub: 'sdk-user', kore_sub: 'alice' }, true)
    const aliased = (await issueBearer(aliasedJwe, stores, 60, undefined, { jweAlg: 'RSA-OAEP', aliasPrefix: 'kore_' })).access_token
    const newAlias = (await issueBearer(await caller({ app_sub: 'bob' }), stores, 60, undefined, { aliasPrefix: 'kore_' })).access_token
    const plain = (await issueBearer(await caller(), stores, 60, undefined, { aliasPrefix: 'kore_' })).access_token
    const legacy = await legacyBearer(stores.store, await caller({ app_sub: 'bob' }))
    const changed = (claim: string): string => `caller_credentials_invalid claim_alias_prefix_changed: bearer token's "${claim}" claim would be read otherwise under today's callers.claimAliasPrefix (it changed since the bearer was issued): exchange a new assertion`
    expect(await outcome(resolveBearer(aliased, stores, opts))).toBe('ok alice')
    const app = { ...opts, claimAliasPrefix: 'app_' }
    expect(await outcome(resolveBearer(aliased, stores, app))).toBe(changed('sub'))
    expect(await outcome(resolveBearer(newAlias, stores, app))).toBe(changed('sub'))
    // An earlier version's record does not say its prefix: today's alias is still compared.
    expect(await outcome(resolveBearer(legacy, stores, app))).toBe(changed('sub'))
    expect(await outcome(resolveBearer(plain, stores, app))).toBe('ok user-1')
    expect(await outcome(resolveBearer(newAlias, stores, { ...opts, claimAliasPrefix: '' }))).toBe('ok user-1')
  })

  it('property: whenever a fresh exchange would read jti, iss or sub otherwise, the bearer ends; with the same prefix it never does', () => {
    const prefix = fc.constantFrom('', 'kore_', 'app_', 'x')
    const value = fc.constantFrom('a', 'b', 'c')
    const keys = ['jti', 'iss', 'sub', 'kore_jti', 'kore_iss', 'kore_sub', 'app_jti', 'app_iss', 'app_sub', 'xjti', 'xiss', 'xsub']
    const payload = fc.record(Object.fromEntries(keys.map((k) => [k, value])), { requiredKeys: [] })
    fc.assert(fc.property(payload, prefix, prefix, (orig, was, now) => {
      const stored = resolveClaimAliases(orig, was) as Record<string, unknown>
      const fresh = resolveClaimAliases(orig, now) as Record<string, unknown>
      const differs = ['jti', 'iss', 'sub'].some((c) => fresh[c] !== stored[c])
      const refusal = aliasRefusal(stored, was, now)
      if (differs) expect(refusal).toBeDefined()
      if (was === now) expect(refusal).toBeUndefined()
    }), { seed: 32, numRuns: 2000 })
  })
})

describe('a shortened bearerTtl', () => {
  it('ends a bearer older than today\'s lifetime (an anonymous one\'s: anonymousTtl); an earlier version\'s record lives out its expiry', async () => {
    const { stores, opts, clock } = setup(true)
    const t = (await issueBearer(await caller(), stores, 60)).access_token
    const anon = (await issueBearer(await caller({ isAnonymous: true, sub: 'anon-1' }), stores, 60)).access_token
    const legacy = await legacyBearer(stores.store, await caller())
    clock.ms += 20_000
    const lifetimes = (bearerTtlSec: number, anonymousTtlSec: number): ResolveOptions => ({ ...opts, lifetimes: { bearerTtlSec, anonymousTtlSec } })
    const shortened = 'caller_credentials_invalid bearer_ttl_shortened: bearer token outlived callers.bearerTtl (or anonymousTtl), shortened since it was issued: exchange a new assertion'
    expect(await outcome(resolveBearer(t, stores, lifetimes(60, 60)))).toBe('ok user-1')
    expect(await outcome(resolveBearer(t, stores, lifetimes(20, 60)))).toBe(shortened)
    expect(await outcome(resolveBearer(anon, stores, lifetimes(60, 30)))).toBe('ok anon-1')
    expect(await outcome(resolveBearer(anon, stores, lifetimes(60, 10)))).toBe(shortened)
    expect(await outcome(resolveBearer(legacy, stores, lifetimes(10, 10)))).toBe('ok user-1')
  })
})
