/**
 * Any edit of a bound clear field (clearBinding, clear-binding.ts) makes its record refused, and an
 * untouched record always opens: an anonymous user's token (`obtainedAt`, `expiresAt`), a pending
 * request (`createdAt`, `expiresAt`, `browser`) and a link (`createdAt`, `expiresAt`, `origin`),
 * known users' and anonymous users', each field replaced by a generated JSON value, a nudge of the
 * value it had, or removed, by a writer without the seal keys on the same SQLite file (seeded).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkKey, pendingKey, tokenKey } from '../../src/dance/token-keys.js'
import { createTokenRepo, type OAuth1TokenRepo, type TokenOwner } from '../../src/dance/tokens.js'
import { createSealer, openSqliteStore, type Store } from '../../src/store/index.js'

const sealer = createSealer([{ id: 'k1', key: randomBytes(32) }], 'k1')
const TTL = 10 * 60_000
const ANON_TTL = 60 * 60_000

type Kind = 'token' | 'pending' | 'link'
const BOUND: Record<Kind, readonly string[]> = { token: ['obtainedAt', 'expiresAt'], pending: ['createdAt', 'expiresAt', 'browser'], link: ['createdAt', 'expiresAt', 'origin'] }

/** What a writer puts in the field: a value of its own, the one it had nudged, or none. */
type NewValue = { readonly set: unknown } | { readonly nudge: number } | { readonly remove: true } | { readonly keep: true }
const newValue: fc.Arbitrary<NewValue> = fc.oneof(
  fc.record({ set: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ nudge: fc.integer({ min: -86_400_000, max: 86_400_000 }) }),
  fc.constant({ remove: true as const }),
  fc.constant({ keep: true as const }),
)

/** The field's value after the edit (undefined: absent). */
function edited(old: unknown, v: NewValue): unknown {
  if ('keep' in v) return old
  if ('remove' in v) return undefined
  if ('set' in v) return v.set
  if (typeof old === 'number') return old + v.nudge
  if (typeof old === 'string') return v.nudge === 0 ? old : `${old}${String.fromCharCode(97 + (Math.abs(v.nudge) % 26))}`
  if (typeof old === 'object' && old !== null) return Object.assign({}, old, { digest: `x${v.nudge}` })
  return v.nudge
}

/** As the stored JSON has it: absent stays absent. */
const jsonOf = (value: unknown): string | undefined => JSON.stringify(value)

let dir: string
let store: Store
let writer: Store
let repo: OAuth1TokenRepo
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'clear-binding-property-'))
  store = openSqliteStore({ file: join(dir, 'state.db') })
  writer = openSqliteStore({ file: join(dir, 'state.db') })
  repo = createTokenRepo({ store, sealer, anonymousTtlMs: ANON_TTL })
})
afterAll(async () => {
  await store?.close()
  await writer?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes a record of `kind` for `owner`; its key and how to read it back as the gateway does. */
async function written(kind: Kind, owner: TokenOwner, origin: string | undefined): Promise<{ key: string; read: () => Promise<unknown> }> {
  const id = randomBytes(12).toString('hex')
  if (kind === 'token') {
    const o = Object.assign({}, owner, { user: id, anonymous: true })
    await repo.saveToken(o, { token: 't', tokenSecret: 's', obtainedAt: Date.now() - 60_000 })
    return { key: tokenKey(o), read: () => repo.findToken(o) }
  }
  if (kind === 'pending') {
    await repo.savePending(id, Object.assign({}, owner, { secret: 's', browser: { cookie: { name: 'mtls_gw_dance_x', path: '/', secure: false }, digest: 'A'.repeat(43) } }), TTL)
    return { key: pendingKey(id), read: () => repo.takePending(id) }
  }
  const link = await repo.createLink(owner, TTL, undefined, origin)
  return { key: linkKey(link), read: async () => (await repo.peekLink(link)) && (await repo.takeLink(link)) }
}

describe('a bound clear field edited in the store', () => {
  it('makes its record refused; an untouched record always opens (3000 seeded runs)', async () => {
    const owner = fc.record({ space: fc.constantFrom('bot', ''), user: fc.constant('u'), profile: fc.constant('partner'), anonymous: fc.boolean() })
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Kind>('token', 'pending', 'link'), owner, fc.option(fc.constantFrom('https://gw.example', 'http://127.0.0.1:20001'), { nil: undefined }), fc.nat(), newValue, async (kind, o, origin, pick, value) => {
        const { key, read } = await written(kind, o, origin)
        const stored = JSON.parse((await writer.get(key)) as string) as Record<string, unknown>
        const field = BOUND[kind][pick % BOUND[kind].length] as string
        const before = stored[field]
        const after = edited(before, value)
        if (after === undefined) delete stored[field]
        else stored[field] = after
        await writer.put(key, JSON.stringify(stored), TTL)
        const changed = jsonOf(before) !== jsonOf(after)
        const opened = await read()
        if (changed) expect(opened, `${kind}.${field}: ${jsonOf(before)} → ${jsonOf(after)}`).toBeUndefined()
        else expect(opened, `${kind}.${field} untouched`).toBeDefined()
      }),
      { seed: 0xc1ea7, numRuns: 3000 },
    )
  }, 300_000)
})
