/**
 * RSA1_5's content key is unwrapped by OpenSSL's raw RSA and unpadded by unpadCek, not by
 * node-forge: forge's JavaScript RSA held the event loop about 100 ms per token (against about
 * 2 ms for RSA-OAEP), and any client could send such tokens to POST /gateway/token once one
 * app allowed RSA1_5. The unpadding must accept exactly the well-formed blocks (PKCS#1 v1.5
 * type 2 with the enc's key length) and fail every other like a bad tag.
 */
import { execFileSync } from 'node:child_process'
import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { decryptRsa15, Rsa15DecryptError, unpadCek } from '../../src/callers/rsa15.js'
import { pythonJwe, rsaPair } from '../support/callers-fixtures.js'
import { assertDistFresh } from '../support/dist-fresh.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

beforeAll(() => assertDistFresh())

const key = rsaPair()
const K = 256 // modulus bytes of an RSA-2048 key

/** RFC 8017 §7.2.2 step 3, written plainly: the CEK when `em` is well-formed with a CEK of `size` bytes. */
function referenceUnpad(em: Buffer, size: number): Buffer | undefined {
  if (em[0] !== 0 || em[1] !== 2) return undefined
  const sep = em.indexOf(0, 2)
  if (sep < 0 || sep - 2 < 8) return undefined
  const cek = em.subarray(sep + 1)
  return cek.length === size ? cek : undefined
}

/** A compact A128GCM JWE whose encrypted key is raw RSA of `em` (the test pads, not a library). */
function jweWithBlock(em: Buffer, cek: Buffer, plaintext: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RSA1_5', enc: 'A128GCM', kid: 'k' })).toString('base64url')
  const iv = randomBytes(12)
  const c = createCipheriv('aes-128-gcm', cek, iv, { authTagLength: 16 }).setAAD(Buffer.from(header, 'ascii'))
  const ct = Buffer.concat([c.update(plaintext), c.final()])
  const ek = publicEncrypt({ key: key.publicKey, padding: constants.RSA_NO_PADDING }, em)
  return [header, ek, iv, ct, c.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.')
}

const nonZero = (n: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: n, maxLength: n, min: 1, max: 255 }).map((a) => Buffer.from(a))

/** Blocks near the valid one: each field may be right or broken. */
const blocks = fc
  .record({
    first: fc.constantFrom(0, 0, 0, 1),
    second: fc.constantFrom(2, 2, 2, 1, 0),
    cekLength: fc.constantFrom(16, 16, 16, 15, 17, 32, 0),
    zeroInPs: fc.option(fc.nat(), { nil: undefined }),
    psLengthCut: fc.constantFrom(0, 0, 0, 'short' as const),
  })
  .chain((f) => {
    const psLength = f.psLengthCut === 'short' ? 7 : K - 3 - f.cekLength
    return fc.record({ f: fc.constant(f), ps: nonZero(psLength), cek: nonZero(f.cekLength) }).map(({ f, ps, cek }) => {
      if (f.zeroInPs !== undefined) ps[f.zeroInPs % ps.length] = 0
      const em = Buffer.concat([Buffer.from([f.first, f.second]), ps, Buffer.from([0]), cek])
      // Keep the block one modulus long (a short PS leaves room: fill it at the end, in the CEK).
      return em.length < K ? Buffer.concat([em, Buffer.alloc(K - em.length, 7)]) : em.subarray(0, K)
    })
  })

describe('unpadCek', () => {
  it('property: selects the CEK exactly when the plain reading of RFC 8017 does, else the fallback (seeded)', () => {
    fc.assert(
      fc.property(blocks, (em) => {
        const fallback = randomBytes(16)
        const want = referenceUnpad(em, 16)
        expect(unpadCek(em, 16, fallback).equals(want ?? fallback)).toBe(true)
      }),
      { seed: 0x15a15, numRuns: 2000 },
    )
  })

  it('property: a JWE whose key block is well-formed decrypts, any other fails like a bad tag (seeded, through OpenSSL raw RSA)', () => {
    fc.assert(
      fc.property(blocks, (em) => {
        const cek = referenceUnpad(em, 16)
        const got = (() => {
          try {
            return decryptRsa15(jweWithBlock(em, cek ?? randomBytes(16), 'hello'), 'A128GCM', key.privateKey).toString()
          } catch (e) {
            return e instanceof Rsa15DecryptError ? e.message : `unexpected ${String(e)}`
          }
        })()
        expect(got).toBe(cek === undefined ? 'decryption failed' : 'hello')
      }),
      { seed: 0x15a16, numRuns: 150 },
    )
  })

  // In a process of its own: the suite's workers run files one after another in one module graph
  // (isolate: false), so a PKCS#12 test before this one has loaded node-forge in this process.
  it('RSA1_5 tokens made by python3-jwcrypto decrypt without loading node-forge (its JavaScript RSA held the event loop)', () => {
    const tokens = (['A128CBC-HS256', 'A128GCM', 'A256GCM'] as const).map((enc) => ({ enc, jwe: pythonJwe({ key: key.publicPem, alg: 'RSA1_5', enc, kid: 'k', payload: `for ${enc}` }) }))
    const script = `
import { createPrivateKey } from 'node:crypto'
import { createRequire } from 'node:module'
const { decryptRsa15 } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/callers/rsa15.js')).href)})
const input = JSON.parse(process.env.RSA15_INPUT)
const key = createPrivateKey(input.pem)
const plaintexts = input.tokens.map((t) => decryptRsa15(t.jwe, t.enc, key).toString())
const forge = Object.keys(createRequire(import.meta.url).cache).filter((m) => m.includes('node-forge'))
process.stdout.write(JSON.stringify({ plaintexts, forge }))
`
    const env = { ...process.env, RSA15_INPUT: JSON.stringify({ pem: key.privatePem, tokens }) }
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 })) as { plaintexts: string[]; forge: string[] }
    expect(out.plaintexts).toEqual(tokens.map((t) => `for ${t.enc}`))
    expect(out.forge).toEqual([])
  })
})
