/**
 * Which bearers the OAuth routes never compare with the admin token: those shaped like a
 * caller's (an opaque bearer from POST /gateway/token, a JWT or JWE) while the admin token
 * is not. A property checks the promise guessers rely on not to gain anything: a token of
 * the admin token's shape is always compared (and so counted by the throttle).
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hasCallerBearerShape, mayBeAdminToken } from '../../src/dance/credentials.js'

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const part = fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 60 })
const opaque = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url'))
const compact = fc.oneof(fc.array(part, { minLength: 3, maxLength: 3 }), fc.array(part, { minLength: 5, maxLength: 5 })).map((p) => p.join('.'))
/** Anything a client may send: caller-shaped, near misses, and arbitrary text. */
const anyToken = fc.oneof(opaque, compact, fc.array(part, { minLength: 1, maxLength: 7 }).map((p) => p.join('.')), fc.string(), fc.string({ unit: 'binary', minLength: 40, maxLength: 46 }), fc.string({ unit: fc.constantFrom(...B64URL, '+', '/', '='), minLength: 42, maxLength: 44 }))

describe('the caller-bearer shape', () => {
  it('is an opaque bearer (43 base64url characters) or a JWT / JWE (3 or 5 base64url parts), nothing else', () => {
    expect(hasCallerBearerShape(randomBytes(32).toString('base64url'))).toBe(true)
    expect(hasCallerBearerShape('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true)
    expect(hasCallerBearerShape('eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn')).toBe(true)
    for (const no of ['a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}=`, 'a.b', 'a.b.c.d', 'a.b.c.d.e.f', 'a.b+.c', 'a.b.c\n', '', 'admin-token-for-dance-tests-0123456789']) {
      expect(hasCallerBearerShape(no), JSON.stringify(no)).toBe(false)
    }
  })

  it('property: opaque bearers and compact JWT/JWE always have it (3,000 runs)', () => {
    fc.assert(fc.property(fc.oneof(opaque, compact), (t) => {
      expect(hasCallerBearerShape(t), t).toBe(true)
    }), { seed: 0xbea7, numRuns: 3_000 })
  })

  it('property: a token of the admin token\'s shape is always compared; only a caller-shaped one is skipped, and only when the admin token is not (5,000 runs)', () => {
    fc.assert(
      fc.property(anyToken, anyToken, (admin, token) => {
        expect(mayBeAdminToken(admin, admin)).toBe(true)
        if (hasCallerBearerShape(token) === hasCallerBearerShape(admin)) expect(mayBeAdminToken(admin, token)).toBe(true)
        expect(mayBeAdminToken(admin, token)).toBe(!(hasCallerBearerShape(token) && !hasCallerBearerShape(admin)))
      }),
      { seed: 0xad31, numRuns: 5_000 },
    )
  })
})
