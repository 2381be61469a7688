/**
 * A revoke of a user removes every token that user's calls would be signed with, the one an
 * earlier version stored under the id's Latin-1 reading included: a call naming "josé" in
 * X-Gateway-User with no token of its own takes over the token under "josÃ©" (findOrAdoptToken),
 * so a revoke of "josé" that left "josÃ©" behind was undone by josé's next call (found by review
 * of the UTF-8 migration: the token was revoked, 200, and the next call was signed again).
 * Real gateway (in process) with its console, real SQLite file; then a seeded property over any
 * id on real SQLite and real Redis (a key prefix of its own).
 */
import fc from 'fast-check'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { latin1Reading, userIdProblem } from '../../src/callers/index.js'
import { createTokenRepo } from '../../src/dance/index.js'
import { createSealer, openSqliteStore, parseSealKey } from '../../src/store/index.js'
import { send } from '../support/gateway.js'
import { STORE_BACKENDS } from '../support/store-backends.js'
import { ADMIN_TOKEN } from '../oauth1-dance/dance-support.js'
import { SEAL_KEY, startProviderlessConsole, type ProviderlessConsole, type Reply } from './console-support.js'

// No provider and no backend is reached: a call with no token is a 401 before any upstream call
// (one signed with a token would try port 9 and fail otherwise).
const sealer = createSealer([{ id: 'k1', key: parseSealKey(SEAL_KEY) }], 'k1')
const owner = (user: string) => ({ space: '', profile: 'partner', user, anonymous: false })

let c: ProviderlessConsole

/** josé's own token and the one an earlier version stored for josé's UTF-8 header (under "josÃ©"), in the gateway's SQLite file. */
async function storeBoth(): Promise<void> {
  const s = openSqliteStore({ file: join(c.dir, 'state.db') })
  try {
    const repo = createTokenRepo({ store: s, sealer, anonymousTtlMs: 60_000 })
    await repo.saveToken(owner('josé'), { token: 'tok-own', tokenSecret: 'sec-own', obtainedAt: Date.now() })
    await repo.saveToken(owner('josÃ©'), { token: 'tok-former', tokenSecret: 'sec-former', obtainedAt: Date.now() })
  } finally {
    await s.close()
  }
}
const listed = async (): Promise<string[]> => (JSON.parse((await c.get('users')).text) as { holders: { user: string }[] }).holders.map((h) => h.user).sort()
/** josé's call, the header UTF-8 encoded (Node's client sends a string one byte per character). */
const callAsJose = () => send(c.ops.gw.url, '/proxy/partner/who', { headers: { 'x-gateway-user': Buffer.from('josé', 'utf8').toString('latin1') } })

beforeAll(async () => {
  c = await startProviderlessConsole('former-user-revoke-')
})

afterAll(async () => {
  await c?.close()
})

const del = (query: string): Promise<Reply> => send(c.ops.gw.url, `/gateway/oauth1/partner/tokens/${encodeURIComponent('josé')}${query}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

describe.each([
  ['the console\'s Revoke', () => c.post('users/revoke', { space: '', profile: 'partner', user: 'josé' })],
  ['DELETE …/tokens/<user> in the user space', () => del('?app=')],
  ['DELETE …/tokens/<user> in every user space', () => del('')],
])('a revoke of josé by %s', (_name, revoke) => {
  it('also removes the token under josé\'s Latin-1 reading: josé\'s next call is a 401, not signed with it', async () => {
    await storeBoth()
    expect(await listed()).toEqual(['josÃ©', 'josé'])
    const r = await revoke()
    expect(r.status, r.text).toBe(200)
    const call = await callAsJose()
    expect(call.status, call.text).toBe(401)
    expect(call.text).toContain('the user has not authorized profile \\"partner\\" yet')
    expect(await listed()).toEqual([])
    // Nothing left to remove.
    expect((await revoke()).status).toBe(404)
  })
})

// Any id the rule accepts, non-ASCII ones weighted (only they have a Latin-1 reading apart).
const userId = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ unit: fc.constantFrom('é', '😀', 'ü', 'a', '中', 'Ã'), minLength: 1, maxLength: 12 }))
  .filter((id) => userIdProblem(id) === undefined)

describe.each(STORE_BACKENDS.filter((b) => b.name === 'sqlite' || b.name === 'redis'))('revoke then call, on $name', (backend) => {
  it('after any user\'s revoke (in its space or in every space), a header call naming that user finds no token to adopt', async () => {
    const h = await backend.setup()
    try {
      const repo = createTokenRepo({ store: h.store, sealer, anonymousTtlMs: 60_000 })
      await fc.assert(
        fc.asyncProperty(userId, fc.boolean(), async (user, everySpace) => {
          // Each run (shrinking included) starts from an empty store.
          for (const k of await h.store.keys('oauth1:token:')) await h.store.delete(k)
          const former = latin1Reading(user)
          await repo.saveToken(owner(user), { token: 'own', tokenSecret: 's', obtainedAt: 1 })
          if (former !== undefined) await repo.saveToken(owner(former), { token: 'former', tokenSecret: 's', obtainedAt: 1 })
          expect(await repo.revoke({ space: everySpace ? undefined : '', profile: 'partner', user })).toBe(true)
          expect(await repo.findOrAdoptToken(owner(user), former ?? user)).toBeUndefined()
          expect(await h.store.keys('oauth1:token:')).toEqual([])
        }),
        { seed: 0x5e0c1d, numRuns: 150 },
      )
    } finally {
      await h.cleanup()
    }
  }, 120_000)
})
