/**
 * X-Gateway-User is read as UTF-8 (src/callers/header-text.ts). Node gives header values one
 * character per byte (Latin-1), so a caller's UTF-8 "josé" was the user "josÃ©": another user than
 * the "josé" of the dance, the console's Users page and authorize links (all of which take JSON or
 * URL text, UTF-8), and the 256-unit limit counted bytes. Bytes that are not UTF-8 are a 400 and
 * the call goes no further (no token lookup, no upstream call).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkUserId, userIdProblem } from '../../src/callers/index.js'
import { tokenKey } from '../../src/dance/index.js'
import { GatewayError } from '../../src/errors.js'
import type { Admitted } from '../../src/proxy/pipeline.js'
import { createResolveToken, USER_HEADER } from '../../src/proxy/steps/resolve-token.js'

/** What a header parser hands over for `bytes`: one character per byte. */
const asReceived = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1')

/** Runs resolve_token for a per-user endpoint with `value` as X-Gateway-User; what the token source was asked. */
async function lookup(value: string): Promise<{ user: string; formerId: string | undefined }[]> {
  const asked: { user: string; formerId: string | undefined }[] = []
  const step = createResolveToken((_p, _c, user, formerId) => {
    asked.push({ user, formerId })
    return Promise.resolve({ token: 't', tokenSecret: 's' })
  })
  const profile = { name: 'partner', config: { token: { mode: 'per_user' } } }
  const ctx = { caller: {}, inbound: { headers: { [USER_HEADER]: value }, rawHeaders: [USER_HEADER, value] }, outbound: { headers: {} }, endpoint: { name: 'partner', profile }, auth: {} } as unknown as Admitted
  await step.run(ctx)
  return asked
}

// Every user id the rule accepts: any well-formed text of 1-256 UTF-16 units (a header cannot
// carry control characters, which UTF-8 keeps as themselves: left out, as the wire does).
const userId = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.string({ unit: fc.constantFrom('é', '😀', 'ü', 'a', '中'), minLength: 100, maxLength: 256 }))
  .filter((id) => userIdProblem(id) === undefined && !/[\x00-\x08\x0a-\x1f\x7f]/.test(id) && id.trim() === id)

/** Whether `bytes` are UTF-8 (the WHATWG decoder, fatal). */
function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return true
  } catch {
    return false
  }
}
// Bytes a header may carry (HTAB, visible ASCII, obs-text), with enough of 0x80-0xFF to be mostly not UTF-8.
const headerByte = fc.oneof(fc.constantFrom(0x09, 0x20, 0x41, 0x7e), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0xc3, 0xe2, 0xf0, 0xa9, 0x80, 0xbf))
const notUtf8 = fc.array(headerByte, { minLength: 1, maxLength: 40 }).map((a) => Uint8Array.from(a)).filter((b) => !isUtf8(b))

describe('X-Gateway-User is UTF-8', () => {
  it('the example: "josé" sent as UTF-8 is josé (the dance\'s and the console\'s josé), its Latin-1 reading kept only to find tokens stored under it', async () => {
    expect(await lookup(asReceived(Buffer.from('josé', 'utf8')))).toEqual([{ user: 'josé', formerId: 'josÃ©' }])
    expect(await lookup('alice')).toEqual([{ user: 'alice', formerId: undefined }])
  })

  it('property: any id the rule accepts, sent UTF-8 encoded, is that id: the key the dance and the console use for it (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(userId, async (id) => {
        const asked = await lookup(asReceived(Buffer.from(id, 'utf8')))
        expect(asked.map((a) => a.user)).toEqual([id])
        // The dance's user= and the console's link name the same store entry (same rule, same key).
        const owner = { space: '', profile: 'partner', anonymous: false }
        expect(tokenKey({ ...owner, user: asked[0]?.user ?? '' })).toBe(tokenKey({ ...owner, user: checkUserId('"user"', id) }))
        expect(asked[0]?.formerId).toBe(/^[\x00-\x7f]*$/.test(id) ? undefined : Buffer.from(id, 'utf8').toString('latin1'))
      }),
      { seed: 0x7f8a2, numRuns: 3000 },
    )
  })

  it('property: bytes that are not UTF-8 are a 400 naming the header, and no token is looked up (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(notUtf8, async (bytes) => {
        let asked: unknown[] = ['not run']
        const err = await lookup(asReceived(bytes)).then((a) => ((asked = a), undefined), (e: unknown) => e)
        expect(err).toBeInstanceOf(GatewayError)
        expect((err as GatewayError).reason).toBe('bad_request')
        expect((err as GatewayError).message).toBe('X-Gateway-User is not valid UTF-8: send its text UTF-8 encoded (the gateway reads header text in no other encoding)')
        expect(asked).toEqual(['not run'])
      }),
      { seed: 0x7f8a3, numRuns: 3000 },
    )
  })

  it('a 256-character id of two-byte characters (512 bytes) is a user id; 257 are refused by the rule\'s own words', async () => {
    expect((await lookup(asReceived(Buffer.from('é'.repeat(256), 'utf8'))))[0]?.user).toBe('é'.repeat(256))
    await expect(lookup(asReceived(Buffer.from('é'.repeat(257), 'utf8')))).rejects.toThrow('X-Gateway-User must be at most 256 characters')
  })
})
