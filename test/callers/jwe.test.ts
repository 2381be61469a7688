import { constants, publicEncrypt, randomBytes } from 'node:crypto'
import { CompactEncrypt } from 'jose'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import {
  authFailureLabel, compileGatewayKeys, decryptAssertion, JWE_DECRYPT_FAILED, JWT_REPLAY, type VerifyOptions,
} from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { claims, NOW_SEC, nowMs, pythonJwe, rsaPair, signHs, signRs, testApps } from '../support/callers-fixtures.js'

const signer = rsaPair()
const k1 = rsaPair()
const k2 = rsaPair()
const stranger = rsaPair()
const apps = testApps(signer)
const keys = compileGatewayKeys([
  { kid: 'k1', privateKey: k1.privatePem },
  { kid: 'k2', privateKey: k2.privatePem },
])
const opts = (): VerifyOptions => ({ clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })
const ALGS = ['RSA-OAEP', 'RSA1_5'] as const
const ENCS = ['A128CBC-HS256', 'A128GCM', 'A256GCM'] as const

async function inner(over: Record<string, unknown> = {}): Promise<string> {
  return signRs(claims('rs-app', { pin: '4711', jti: `j-${Math.random()}`, ...over }), signer.privateKey)
}

async function joseJwe(payload: string, alg: string, enc: string, kid: string, pub = k1): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg, enc, kid, cty: 'JWT' })
    .encrypt(pub.publicKey)
}

async function refusal(jwe: string, a = apps, o = opts()): Promise<GatewayError> {
  const e: unknown = await decryptAssertion(jwe, keys, a, o).then(() => undefined, (err: unknown) => err)
  expect(e).toBeInstanceOf(GatewayError)
  return e as GatewayError
}

function tamperTag(jwe: string): string {
  const parts = jwe.split('.')
  const tag = Buffer.from(parts[4] ?? '', 'base64url')
  tag[0] = (tag[0] ?? 0) ^ 1
  parts[4] = tag.toString('base64url')
  return parts.join('.')
}

/** An RSA1_5 JWE whose encrypted key is `ek`, everything else from a real token. */
function withEncryptedKey(jwe: string, ek: Buffer): string {
  const parts = jwe.split('.')
  parts[1] = ek.toString('base64url')
  return parts.join('.')
}

describe('decryptAssertion: every alg × enc', () => {
  for (const alg of ALGS) {
    for (const enc of ENCS) {
      it(`${alg} ${enc} made by python3-jwcrypto`, async () => {
        const jwe = pythonJwe({ key: k2.publicPem, alg, enc, kid: 'k2', payload: await inner() })
        const c = await decryptAssertion(jwe, keys, apps, opts())
        expect(c).toMatchObject({ appId: 'rs-app', sub: 'user-1', viaJwe: true })
        expect(c.claims['pin']).toBe('4711')
      })
      it(`${alg} ${enc} made by python3-jwcrypto (JWK key), tampered tag refused`, async () => {
        const jwk = k1.publicKey.export({ format: 'jwk' })
        const jwe = pythonJwe({ key: jwk, alg, enc, kid: 'k1', payload: await inner() })
        const e = await refusal(tamperTag(jwe))
        expect([e.reason, e.message, authFailureLabel(e)]).toEqual(['caller_credentials_invalid', JWE_DECRYPT_FAILED, 'jwe_decrypt_failed'])
        expect((await decryptAssertion(jwe, keys, apps, opts())).claims['pin']).toBe('4711')
      })
      it(`${alg} ${enc} encrypted to another key is refused with the same text`, async () => {
        const jwe = pythonJwe({ key: stranger.publicPem, alg, enc, kid: 'k1', payload: await inner() })
        const e = await refusal(jwe)
        expect([e.message, authFailureLabel(e)]).toEqual([JWE_DECRYPT_FAILED, 'jwe_decrypt_failed'])
      })
    }
  }
  for (const enc of ENCS) {
    it(`RSA-OAEP ${enc} made by jose`, async () => {
      const c = await decryptAssertion(await joseJwe(await inner(), 'RSA-OAEP', enc, 'k1'), keys, apps, opts())
      expect(c.claims['pin']).toBe('4711')
      expect(c.viaJwe).toBe(true)
    })
  }
})

describe('decryptAssertion: kid', () => {
  it('refuses an unknown kid, naming the gateway keys', async () => {
    const e = await refusal(await joseJwe(await inner(), 'RSA-OAEP', 'A128GCM', 'k9'))
    expect(authFailureLabel(e)).toBe('jwe_unknown_kid')
    expect(e.message).toBe('error decrypting the jwe: "kid" names no gateway key (gateway keys: k1, k2)')
  })
  it('needs a kid when there are several keys, not with one', async () => {
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA-OAEP', enc: 'A256GCM', payload: await inner() })
    expect(authFailureLabel(await refusal(jwe))).toBe('jwe_unknown_kid')
    const one = compileGatewayKeys([{ kid: 'only', privateKey: k1.privatePem }])
    expect((await decryptAssertion(jwe, one, apps, opts())).sub).toBe('user-1')
  })
})

describe('decryptAssertion: RSA1_5 oracle hygiene and policy', () => {
  const block = (bytes: Buffer): Buffer => publicEncrypt({ key: k1.publicKey, padding: constants.RSA_NO_PADDING }, bytes)
  it('a padding failure reads exactly like a bad tag', async () => {
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA1_5', enc: 'A128CBC-HS256', kid: 'k1', payload: await inner() })
    const badPadding = Buffer.concat([Buffer.from([0, 1]), randomBytes(254)]) // block type 01: invalid for decryption
    const e1 = await refusal(withEncryptedKey(jwe, block(badPadding)))
    const e2 = await refusal(tamperTag(jwe))
    const e3 = await refusal(withEncryptedKey(jwe, randomBytes(13))) // wrong length for the modulus
    expect([e1.message, e2.message, e3.message]).toEqual([JWE_DECRYPT_FAILED, JWE_DECRYPT_FAILED, JWE_DECRYPT_FAILED])
    expect(new Set([authFailureLabel(e1), authFailureLabel(e2), authFailureLabel(e3)])).toEqual(new Set(['jwe_decrypt_failed']))
  })
  it('a well-padded content key of the wrong length reads like a bad tag too', async () => {
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA1_5', enc: 'A256GCM', kid: 'k1', payload: await inner() })
    const shortCek = publicEncrypt({ key: k1.publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(16))
    expect((await refusal(withEncryptedKey(jwe, shortCek))).message).toBe(JWE_DECRYPT_FAILED)
  })
  it('is refused before decryption when no app allows it', async () => {
    const strict = testApps(signer, { rsa15: false })
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA1_5', enc: 'A128GCM', kid: 'k1', payload: await inner() })
    const e = await refusal(jwe, strict)
    expect(authFailureLabel(e)).toBe('jwe_alg_not_allowed')
    expect(e.message).toContain('RSA1_5 is not enabled for any app')
  })
  it('is refused after decryption when the issuing app does not allow it, without spending the jti', async () => {
    const o = opts()
    const hsInner = await signHs(claims('hs-app', { jti: 'hs-1' }))
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA1_5', enc: 'A128GCM', kid: 'k1', payload: hsInner })
    const e = await refusal(jwe, apps, o)
    expect([authFailureLabel(e), e.message]).toEqual(['jwe_alg_not_allowed', 'error decrypting the jwe: app "hs-app" may not use "alg" RSA1_5 (use RSA-OAEP)'])
    const oaep = pythonJwe({ key: k1.publicPem, alg: 'RSA-OAEP', enc: 'A128GCM', kid: 'k1', payload: hsInner })
    expect((await decryptAssertion(oaep, keys, apps, o)).appId).toBe('hs-app')
  })
})

describe('decryptAssertion: other refusals', () => {
  it('refuses algorithms and encodings outside the allow-lists', async () => {
    for (const [alg, enc] of [['RSA-OAEP-256', 'A128GCM'], ['RSA-OAEP', 'A192GCM'], ['RSA-OAEP', 'A256CBC-HS512']] as const) {
      const jwe = pythonJwe({ key: k1.publicPem, alg, enc, kid: 'k1', payload: await inner() })
      expect(authFailureLabel(await refusal(jwe))).toBe('jwe_alg_not_allowed')
    }
  })
  it('refuses a payload that is not a signed JWT, and a zip header', async () => {
    expect(authFailureLabel(await refusal(await joseJwe('{"sub":"x"}', 'RSA-OAEP', 'A128GCM', 'k1')))).toBe('malformed')
    const zipped = await new CompactEncrypt(new TextEncoder().encode(await inner()))
      .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A128GCM', kid: 'k1', zip: 'DEF' })
      .encrypt(k1.publicKey)
    expect(authFailureLabel(await refusal(zipped))).toBe('malformed')
    expect(authFailureLabel(await refusal('a.b.c.d.e'))).toBe('malformed')
  })
  it('applies every JWT rule to the inner token, replay included', async () => {
    const expired = await joseJwe(await inner({ exp: NOW_SEC - 100 }), 'RSA-OAEP', 'A128GCM', 'k1')
    expect(authFailureLabel(await refusal(expired))).toBe('expired')
    const o = opts()
    const jwe = pythonJwe({ key: k1.publicPem, alg: 'RSA1_5', enc: 'A128CBC-HS256', kid: 'k1', payload: await inner() })
    await decryptAssertion(jwe, keys, apps, o)
    const again = await refusal(jwe, apps, o)
    expect([again.reason, again.message]).toEqual(['jwt_replay', JWT_REPLAY])
  })
})
