import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decryptRsa15, Rsa15DecryptError } from '../../src/callers/rsa15.js'
import { pythonJwe, rsaPair } from '../support/callers-fixtures.js'

const key = rsaPair()
const ENCS = ['A128CBC-HS256', 'A128GCM', 'A256GCM'] as const
const tokens = Object.fromEntries(
  ENCS.map((enc) => [enc, pythonJwe({ key: key.publicPem, alg: 'RSA1_5', enc, kid: 'k', payload: `secret for ${enc}` })]),
) as Record<(typeof ENCS)[number], string>

function flip(jwe: string, part: number, index: number, bit: number): string {
  const parts = jwe.split('.')
  const bytes = Buffer.from(parts[part] ?? '', 'base64url')
  const i = index % bytes.length
  bytes[i] = (bytes[i] ?? 0) ^ (1 << bit)
  parts[part] = bytes.toString('base64url')
  return parts.join('.')
}

describe('decryptRsa15 (jwcrypto-made tokens)', () => {
  for (const enc of ENCS) {
    it(`decrypts ${enc}`, () => {
      expect(decryptRsa15(tokens[enc], enc, key.privateKey).toString()).toBe(`secret for ${enc}`)
    })
    it(`${enc}: any bit flipped in the header, key, IV, ciphertext or tag fails one and the same way`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (part, index, bit) => {
          const err = (() => {
            try {
              decryptRsa15(flip(tokens[enc], part, index, bit), enc, key.privateKey)
            } catch (e) {
              return e
            }
            return undefined
          })()
          expect(err).toBeInstanceOf(Rsa15DecryptError)
          expect((err as Error).message).toBe('decryption failed')
        }),
        { numRuns: 40 },
      )
    })
  }
  it('refuses a token decrypted under the wrong enc, and non-base64url parts', () => {
    expect(() => decryptRsa15(tokens.A128GCM, 'A256GCM', key.privateKey)).toThrow(Rsa15DecryptError)
    expect(() => decryptRsa15(tokens.A128GCM.replace('.', '.*'), 'A128GCM', key.privateKey)).toThrow(Rsa15DecryptError)
  })
})
