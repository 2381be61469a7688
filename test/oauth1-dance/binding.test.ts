/**
 * The browser binding of the dance at unit level, against the real token repository on a
 * real SQLite file and on Redis: a callback gets its pending request only with exactly the
 * cookie issued for that request token (its name and its value), whatever else the Cookie
 * header holds; every callback for a pending request takes it (a wrong browser burns it),
 * and leaves every other dance's untouched. Also the cookie's attributes and name, and the
 * link page naming whom the authorization is for, escaped.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bindingCookieFor, claimPending, clearBindingCookie, issueBinding, setBindingCookie } from '../../src/dance/binding.js'
import { linkPage } from '../../src/dance/pages.js'
import { createTokenRepo, type OAuth1TokenRepo } from '../../src/dance/tokens.js'
import { createSealer, openRedisStore, openSqliteStore, type Store } from '../../src/store/index.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const owner = { space: 'bot', profile: 'partner', user: 'alice', anonymous: false } as const

describe('the binding cookie', () => {
  it('is random, HttpOnly, SameSite=Lax, named after the request token; Secure __Host- with Path=/ over https, the callback path over http', () => {
    const http = issueBinding('tok-1', 'http://gw.example:8080/prefix/gateway/oauth1/callback')
    expect(http.value).toMatch(/^[\w-]{43}$/)
    expect(http.binding.digest).not.toContain(http.value)
    expect(setBindingCookie(http.binding.cookie, http.value, 600)).toBe(`${http.binding.cookie.name}=${http.value}; Max-Age=600; Path=/prefix/gateway/oauth1/callback; HttpOnly; SameSite=Lax`)
    expect(http.binding.cookie.name).toMatch(/^mtls_gw_dance_[\w-]{22}$/)
    const https = issueBinding('tok-1', 'https://gw.example/prefix/gateway/oauth1/callback?x=1')
    expect(setBindingCookie(https.binding.cookie, https.value, 600)).toBe(`${https.binding.cookie.name}=${https.value}; Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure`)
    expect(https.binding.cookie.name).toBe(`__Host-${http.binding.cookie.name}`)
    expect(clearBindingCookie(https.binding.cookie)).toBe(`${https.binding.cookie.name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure`)
    // Two dances in one browser: two names, two values.
    const other = issueBinding('tok-2', 'http://gw.example:8080/prefix/gateway/oauth1/callback')
    expect(other.binding.cookie.name).not.toBe(http.binding.cookie.name)
    expect(other.value).not.toBe(http.value)
    // A path a Path attribute cannot hold falls back to the whole host.
    expect(bindingCookieFor('t', 'http://gw.example/a;b/gateway/oauth1/callback').path).toBe('/')
  })
})

describe('the link page names whom the authorization is for', () => {
  const text = fc.string({ unit: fc.constantFrom(...'<>&"\'/=ab é'.split('')), minLength: 1, maxLength: 16 })
  it('the user id and tenant, escaped, whatever they hold (2,000 runs)', () => {
    const escaped = (t: string): string => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;')
    fc.assert(
      fc.property(text, fc.option(text, { nil: undefined }), fc.boolean(), (user, tenant, anonymous) => {
        const page = linkPage('Bank', '/x', 'csrf', [], { user, ...(tenant !== undefined ? { tenant } : {}), anonymous })
        expect(page).toContain(`${anonymous ? 'guest session' : 'user'} <b id="holder-user">${escaped(user)}</b>`)
        if (tenant !== undefined) expect(page).toContain(`of tenant <b id="holder-tenant">${escaped(tenant)}</b>`)
        else expect(page).not.toContain('holder-tenant')
        // Nothing the ids hold opens markup: the page's tags are the template's own.
        expect(page.match(/<[a-z/!]/gi)?.length).toBe(linkPage('Bank', '/x', 'csrf', [], { user: 'u', ...(tenant !== undefined ? { tenant: 't' } : {}), anonymous }).match(/<[a-z/!]/gi)?.length)
      }),
      { seed: 0x4e1d, numRuns: 2_000 },
    )
  })
})

interface Backend {
  readonly name: string
  open(): Promise<{ store: Store; close(): Promise<void> }>
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    async open() {
      // On tmpfs where there is one: the same SQLite, without thousands of fsyncs to a shared disk.
      const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dance-binding-'))
      const store = openSqliteStore({ file: join(dir, 'state.db') })
      return { store, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) } }
    },
  },
  {
    name: 'redis',
    async open() {
      const keyPrefix = uniqueRedisPrefix()
      const store = openRedisStore({ url: REDIS_URL, keyPrefix })
      return { store, close: async () => { await store.close(); await wipeRedisPrefix(keyPrefix) } }
    },
  },
]

/** What a callback's Cookie header is made of, relative to the dances of one run. */
type Part =
  | { kind: 'issued'; dance: number } // dance's own cookie, as issued
  | { kind: 'value_under'; dance: number; of: number } // `of`'s value under `dance`'s name
  | { kind: 'forged'; dance: number; value: string } // a made-up value under `dance`'s name
  | { kind: 'other_scheme'; dance: number } // dance's value under its name for the other scheme (__Host- or not)
  | { kind: 'junk'; name: string; value: string }

const CALLBACKS = ['http://127.0.0.1:8080/gateway/oauth1/callback', 'https://gw.example/gateway/oauth1/callback', 'https://gw.example/base/gateway/oauth1/callback?t=1', 'http://gw.example/x/cb']
const token = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~%+ '.split('')), minLength: 1, maxLength: 12 })
const cookieText = fc.string({ unit: fc.constantFrom(...'abAB09-_=+/ '.split('')), maxLength: 44 })
const part = (n: number): fc.Arbitrary<Part> => fc.oneof(
  fc.record({ kind: fc.constant('issued' as const), dance: fc.nat({ max: n }) }),
  fc.record({ kind: fc.constant('value_under' as const), dance: fc.nat({ max: n }), of: fc.nat({ max: n }) }),
  fc.record({ kind: fc.constant('forged' as const), dance: fc.nat({ max: n }), value: cookieText }),
  fc.record({ kind: fc.constant('other_scheme' as const), dance: fc.nat({ max: n }) }),
  fc.record({ kind: fc.constant('junk' as const), name: fc.constantFrom('session', 'mtls_gw_dance_', '__Host-mtls_gw_dance_x', ''), value: cookieText }),
)
/** A run: 1–4 dances (tokens unique in the run; index `n` names a token never issued), then 1–4 callbacks. */
const run = fc.integer({ min: 1, max: 4 }).chain((n) => fc.record({
  tokens: fc.uniqueArray(token, { minLength: n + 1, maxLength: n + 1 }),
  callbacks: fc.array(fc.constantFrom(...CALLBACKS), { minLength: n, maxLength: n }),
  attempts: fc.array(fc.record({ dance: fc.nat({ max: n }), parts: fc.array(part(n), { maxLength: 5 }), separator: fc.constantFrom('; ', ';', ' ;  ') }), { minLength: 1, maxLength: 4 }),
}))

describe.each(BACKENDS)('claimPending against the token repository on $name (property)', (backend) => {
  let opened: Awaited<ReturnType<Backend['open']>>
  let repo: OAuth1TokenRepo
  beforeAll(async () => {
    opened = await backend.open()
    repo = createTokenRepo({ store: opened.store, sealer, anonymousTtlMs: 60_000 })
  })
  afterAll(async () => {
    await opened?.close()
  })

  it('a callback gets its pending request exactly when it carries the cookie issued for that request token; every claim burns it (2,000 runs)', async () => {
    let runNo = 0
    await fc.assert(
      fc.asyncProperty(run, async ({ tokens, callbacks, attempts }) => {
        // Each run's tokens are its own, so runs sharing the store never see each other's dances.
        const tokenOf = tokens.map((t) => `${++runNo}.${t}`)
        const issued = await Promise.all(callbacks.map(async (callback, i) => {
          const { binding, value } = issueBinding(tokenOf[i] as string, callback)
          await repo.savePending(tokenOf[i] as string, { ...owner, user: `u${i}`, secret: `s${i}`, browser: binding, settings: 'x' }, 60_000)
          return { binding, value, callback }
        }))
        const nameOf = (d: number): string => issued[d]?.binding.cookie.name ?? bindingCookieFor(tokenOf[d] as string, 'http://x/').name
        const live = new Set(issued.map((_, i) => i))
        for (const { dance, parts, separator } of attempts) {
          const pairs = parts.map((p) => {
            switch (p.kind) {
              case 'issued': return `${nameOf(p.dance)}=${issued[p.dance]?.value ?? 'none'}`
              case 'value_under': return `${nameOf(p.dance)}=${issued[p.of]?.value ?? 'none'}`
              case 'forged': return `${nameOf(p.dance)}=${p.value}`
              case 'other_scheme': return `${nameOf(p.dance).startsWith('__Host-') ? nameOf(p.dance).slice(7) : `__Host-${nameOf(p.dance)}`}=${issued[p.dance]?.value ?? 'none'}`
              case 'junk': return `${p.name}=${p.value}`
            }
          })
          const carriesOwn = parts.some((p) => (p.kind === 'issued' && p.dance === dance) || (p.kind === 'value_under' && p.dance === dance && p.of === dance))
          const claim = await claimPending(repo, tokenOf[dance] as string, pairs.length === 0 ? undefined : pairs.join(separator))
          if (!live.has(dance)) {
            expect(claim).toEqual({ ok: false, why: 'unknown' })
            continue
          }
          live.delete(dance)
          if (carriesOwn) {
            expect(claim.ok).toBe(true)
            if (claim.ok) expect([claim.pending.user, claim.pending.secret]).toEqual([`u${dance}`, `s${dance}`])
          } else {
            const hasName = pairs.some((pair) => pair.startsWith(`${nameOf(dance)}=`))
            expect(claim).toEqual({ ok: false, why: hasName ? 'cookie_mismatch' : 'cookie_missing', cookie: issued[dance]?.binding.cookie })
          }
        }
        // Claims took only their own dance's request: the rest still complete, with their own cookie.
        for (const d of live) {
          const claim = await claimPending(repo, tokenOf[d] as string, `${nameOf(d)}=${issued[d]?.value}`)
          expect(claim.ok).toBe(true)
        }
      }),
      { seed: 0xb1d5, numRuns: 2_000 },
    )
  }, 300_000)

  it('a pending request without a binding (written before bindings) is refused and taken', async () => {
    const legacy = { ...owner, secret: 's' } as unknown as Parameters<OAuth1TokenRepo['savePending']>[1]
    await repo.savePending('legacy-token', legacy, 60_000)
    expect(await claimPending(repo, 'legacy-token', 'anything=1')).toEqual({ ok: false, why: 'cookie_mismatch' })
    expect(await claimPending(repo, 'legacy-token', undefined)).toEqual({ ok: false, why: 'unknown' })
  })

  it('a pending request or link without a user space (written before user spaces) is unknown, and taken', async () => {
    const { binding, value } = issueBinding('spaceless-token', 'http://gw.example/gateway/oauth1/callback')
    const spaceless = { ...owner, space: undefined, secret: 's', browser: binding } as unknown as Parameters<OAuth1TokenRepo['savePending']>[1]
    await repo.savePending('spaceless-token', spaceless, 60_000)
    expect(await claimPending(repo, 'spaceless-token', `${binding.cookie.name}=${value}`)).toEqual({ ok: false, why: 'unknown' })
    const id = await repo.createLink({ ...owner, space: undefined } as unknown as Parameters<OAuth1TokenRepo['createLink']>[0], 60_000)
    expect(await repo.peekLink(id)).toBeUndefined()
    expect(await repo.takeLink(id)).toBeUndefined()
    // The same, with a space, is a dance of this version.
    const withSpace = await repo.createLink(owner, 60_000)
    expect(await repo.peekLink(withSpace)).toMatchObject(owner)
  })
})
