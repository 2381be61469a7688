import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../../src/errors.js'
import { createSealer } from '../../src/store/seal.js'
import {
  authFailureLabel, issueBearer, resolveBearer, verifyAssertion, type AssertedCaller, type BearerStores, type ResolveOptions, type Sealer,
} from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, rsaPair, signHs, signRs, testApps } from '../support/callers-fixtures.js'

const rs = rsaPair()
const apps = testApps(rs)

function setup(): { stores: BearerStores & { store: CallersMemoryStore }; opts: ResolveOptions; clock: { ms: number } } {
  const clock = { ms: NOW_SEC * 1000 }
  const now = (): number => clock.ms
  const stores = { store: new CallersMemoryStore(now), now }
  return { stores, opts: { apps, clockSkewSec: 30, claimAliasPrefix: '', now, replay: new CallersMemoryStore(now) }, clock }
}

async function caller(over: Record<string, unknown> = {}, viaJwe = false): Promise<AssertedCaller> {
  const c = await verifyAssertion(await signHs(claims('hs-app', { pin: '4711', ...over })), apps, { clockSkewSec: 30, claimAliasPrefix: '', now: () => NOW_SEC * 1000 })
  return viaJwe ? { ...c, viaJwe: true } : c
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const e: unknown = await p.then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(GatewayError)
  return e as GatewayError
}

const sealer: Sealer = {
  seal: (s) => `sealed:${Buffer.from(s).toString('base64')}`,
  open: (s) => Buffer.from(s.replace(/^sealed:/, ''), 'base64').toString(),
}

describe('bearer tokens', () => {
  it('issues an opaque bearer that resolves to the caller until it expires', async () => {
    const { stores, opts, clock } = setup()
    const c = await caller()
    const t = await issueBearer(c, stores, 300)
    expect(t).toMatchObject({ token_type: 'bearer', expires_in: 300 })
    expect(t.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await resolveBearer(t.access_token, stores, opts)).toEqual(c)
    // Only a hash of the token is a key; the token itself is nowhere in the store.
    const keys = await stores.store.keys('bearer:')
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatch(/^bearer:[0-9a-f]{64}$/)
    expect(JSON.stringify(await stores.store.get(keys[0] ?? ''))).not.toContain(t.access_token)
    clock.ms += 300_000
    const e = await refusal(resolveBearer(t.access_token, stores, opts))
    expect([e.reason, authFailureLabel(e), e.message]).toEqual(['caller_credentials_invalid', 'bearer_unknown', 'bearer token is unknown or expired'])
  })
  it('refuses unknown, malformed and empty bearers, and bearers of apps no longer configured', async () => {
    const { stores, opts } = setup()
    expect(authFailureLabel(await refusal(resolveBearer('A'.repeat(43), stores, opts)))).toBe('bearer_unknown')
    expect(authFailureLabel(await refusal(resolveBearer('short', stores, opts)))).toBe('malformed')
    const empty = await refusal(resolveBearer('', stores, opts))
    expect([empty.reason, authFailureLabel(empty)]).toEqual(['caller_credentials_missing', 'missing'])
    const t = await issueBearer(await caller(), stores, 60)
    const gone = await refusal(resolveBearer(t.access_token, stores, { ...opts, apps: new Map() }))
    expect(authFailureLabel(gone)).toBe('app_not_configured')
  })
  it('refuses a bearer issued under a key its app no longer has (a rotated secret), and keeps resolving one issued without a key fingerprint (an earlier version\'s record)', async () => {
    const { stores, opts } = setup()
    const app = apps.get('hs-app')
    if (app === undefined) throw new Error('fixture app hs-app missing')
    const t = await issueBearer(await caller(), stores, 60, app.keyId)
    expect((await resolveBearer(t.access_token, stores, opts)).sub).toBe('user-1')
    const rotated = new Map(apps).set('hs-app', { ...app, keyId: 'another-key-fingerprint' })
    const e = await refusal(resolveBearer(t.access_token, stores, { ...opts, apps: rotated }))
    expect([e.reason, authFailureLabel(e)]).toEqual(['caller_credentials_invalid', 'app_key_changed'])
    expect(e.message).toBe('bearer token was issued under a key app "hs-app" no longer has (its hs256Secret or rs256PublicKey changed): exchange a new assertion')
    const legacy = await issueBearer(await caller(), stores, 60)
    expect((await resolveBearer(legacy.access_token, stores, { ...opts, apps: rotated })).sub).toBe('user-1')
    // The fingerprint is not the key: nothing of the secret is in the record.
    expect(app.keyId).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it('refuses a bearer whose assertion\'s aud no longer names its app\'s audience: an earlier version\'s record (no key fingerprint), a JWE\'s, an aud list', async () => {
    const { stores, opts } = setup()
    const app = apps.get('hs-app')
    if (app === undefined) throw new Error('fixture app hs-app missing')
    const legacy = await issueBearer(await caller(), stores, 60)
    const jwe = await issueBearer(await caller({}, true), { ...stores, claimsSealer: sealer }, 60, app.keyId, { jweAlg: 'RSA-OAEP' })
    const list = await issueBearer(await caller({ aud: ['https://elsewhere.test', app.audience] }), stores, 60, app.keyId)
    const read = { ...stores, claimsSealer: sealer }
    for (const t of [legacy, jwe, list]) expect((await resolveBearer(t.access_token, read, opts)).sub).toBe('user-1')
    const moved = new Map(apps).set('hs-app', { ...app, audience: 'https://gateway-b.test' })
    for (const t of [legacy, jwe, list]) {
      const e = await refusal(resolveBearer(t.access_token, read, { ...opts, apps: moved }))
      expect([e.reason, authFailureLabel(e), e.message]).toEqual(['caller_credentials_invalid', 'app_audience_changed', 'bearer token was issued for an audience app "hs-app" no longer has (its audience changed): exchange a new assertion'])
    }
  })

  it('lives only in the shared store: another process with the same store resolves it', async () => {
    const { stores, opts } = setup()
    const t = await issueBearer(await caller(), stores, 60)
    const replica2: BearerStores = { store: stores.store }
    expect((await resolveBearer(t.access_token, replica2, opts)).sub).toBe('user-1')
  })
  it('seals records when a sealer is given', async () => {
    const { stores, opts } = setup()
    const sealed = { ...stores, sealer }
    const t = await issueBearer(await caller(), sealed, 60)
    const [key = ''] = await stores.store.keys('bearer:')
    const raw = (await stores.store.get(key)) ?? ''
    expect(raw.startsWith('sealed:')).toBe(true)
    expect(raw).not.toContain('4711')
    expect((await resolveBearer(t.access_token, sealed, opts)).claims['pin']).toBe('4711')
  })
})

describe('bearer tokens: with the store\'s real sealer', () => {
  it('seals with AES-GCM bound to the record key', async () => {
    const { stores, opts } = setup()
    const sealed = { ...stores, sealer: createSealer([{ id: 's1', key: randomBytes(32) }], 's1') }
    const a = await issueBearer(await caller(), sealed, 60)
    const [keyA = ''] = await stores.store.keys('bearer:')
    const b = await issueBearer(await caller({ sub: 'user-2' }), sealed, 60)
    const keyB = (await stores.store.keys('bearer:')).find((k) => k !== keyA) ?? ''
    expect(await stores.store.get(keyA)).toMatch(/^v1\.s1\./)
    expect((await resolveBearer(a.access_token, sealed, opts)).sub).toBe('user-1')
    // b's sealed record copied under a's key does not open there: a is simply unknown.
    await stores.store.put(keyA, (await stores.store.get(keyB)) ?? '', 60_000)
    expect(authFailureLabel(await refusal(resolveBearer(a.access_token, sealed, opts)))).toBe('bearer_unknown')
    expect((await resolveBearer(b.access_token, sealed, opts)).sub).toBe('user-2')
  })
})

describe('bearer tokens: a seal-key rotation', () => {
  // store_records_resealed_total{kind}: counted once the store took the re-seal, by the record's kind.
  it('a record and its JWE claims read under a retired key are sealed again under the active one, each counted once by kind', async () => {
    const { stores, opts } = setup()
    const [k1, k2] = [{ id: 'k1', key: randomBytes(32) }, { id: 'k2', key: randomBytes(32) }]
    const old = createSealer([k1], 'k1')
    const t = await issueBearer(await caller({}, true), { ...stores, sealer: old, claimsSealer: old }, 60, undefined, { jweAlg: 'RSA-OAEP' })
    const rotated = createSealer([k1, k2], 'k2')
    const counted: string[] = []
    const reading = { ...stores, sealer: rotated, claimsSealer: rotated, onResealed: (kind: string) => void counted.push(kind) }
    const underK2 = async (): Promise<boolean> => (await Promise.all((await stores.store.keys('')).map(async (k) => (await stores.store.get(k)) ?? ''))).every((v) => v.startsWith('v1.k2.'))
    expect((await resolveBearer(t.access_token, reading, opts)).claims['pin']).toBe('4711')
    await expect.poll(underK2).toBe(true)
    await expect.poll(() => counted.slice().sort()).toEqual(['caller_bearer', 'caller_claims'])
    // Already under k2: read again, nothing more to seal or count.
    expect((await resolveBearer(t.access_token, reading, opts)).sub).toBe('user-1')
    expect(counted).toHaveLength(2)
  })
})

describe('bearer tokens: anonymous callers and decrypted claims', () => {
  it('anonymous callers are in the shared store, expiring with the bearer', async () => {
    const { stores, opts, clock } = setup()
    const anon = await caller({ isAnonymous: true, sub: 'anon-7' })
    const t = await issueBearer(anon, stores, 60)
    expect(await resolveBearer(t.access_token, { store: stores.store }, opts)).toEqual(anon)
    clock.ms += 60_000
    expect(authFailureLabel(await refusal(resolveBearer(t.access_token, stores, opts)))).toBe('bearer_unknown')
  })
  it('decrypted (JWE) claims are stored only sealed, apart from the identity, and shared', async () => {
    const { stores, opts } = setup()
    const c = await caller({}, true)
    await expect(issueBearer(c, stores, 60, undefined, { jweAlg: 'RSA-OAEP' })).rejects.toThrow(TypeError)
    const withSealer = { ...stores, claimsSealer: sealer }
    const t = await issueBearer(c, withSealer, 60, undefined, { jweAlg: 'RSA-OAEP' })
    for (const key of await stores.store.keys('')) expect(await stores.store.get(key)).not.toContain('4711')
    expect(await stores.store.get((await stores.store.keys('bearer-claims:'))[0] ?? '')).toMatch(/^sealed:/)
    expect((await resolveBearer(t.access_token, { store: stores.store, claimsSealer: sealer }, opts)).claims['pin']).toBe('4711')
    // Without the key that sealed them the claims are unavailable, never guessed.
    const e = await refusal(resolveBearer(t.access_token, { store: stores.store }, opts))
    expect(authFailureLabel(e)).toBe('bearer_claims_unavailable')
  })
})

describe('a JWT as the bearer', () => {
  it('a JWT without jti is verified directly, with every rule', async () => {
    const { stores, opts } = setup()
    const jwt = await signRs(claims('rs-app'), rs.privateKey)
    expect((await resolveBearer(jwt, stores, opts)).appId).toBe('rs-app')
    expect(stores.store.writes).toBe(0)
    const expired = await signRs(claims('rs-app', { exp: NOW_SEC - 100 }), rs.privateKey)
    expect(authFailureLabel(await refusal(resolveBearer(expired, stores, opts)))).toBe('expired')
  })
  it('a JWT with jti must go through the exchange', async () => {
    const { stores, opts } = setup()
    const e = await refusal(resolveBearer(await signHs(claims('hs-app', { jti: 'j' })), stores, opts))
    expect(authFailureLabel(e)).toBe('jwt_bearer_has_jti')
  })
  it('a JWT with identityToMerge must go through the exchange too: the merge runs there only, and is never silently skipped', async () => {
    const { stores, opts } = setup()
    const e = await refusal(resolveBearer(await signHs(claims('hs-app', { identityToMerge: 'anon-1' })), stores, opts))
    expect([authFailureLabel(e), e.reason, e.message]).toEqual(['jwt_bearer_has_identity_to_merge', 'caller_credentials_invalid', 'error verifying the jwt: a JWT with "identityToMerge" must be exchanged at /gateway/token (the merge runs there)'])
    expect(stores.store.writes).toBe(0)
  })
})
