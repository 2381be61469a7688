/**
 * Retry-After when the in-process count refuses while the store answers: other processes'
 * attempts are in the store's count only, so the wait is the later of the two counts' (the
 * attempt after it is admitted, one second sooner it is refused), not this process's alone.
 */
import { describe, expect, it } from 'vitest'
import { createFailureThrottle, THROTTLE_WINDOW_MS as WINDOW } from '../../src/api/failure-throttle.js'
import { MemoryStore } from '../../src/store/index.js'

const ADDRESS = '10.7.7.9'

describe('failure throttle Retry-After of an in-process refusal', () => {
  it('two processes on one store: the refusal this process makes waits for the store count too', async () => {
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    let now = 5 * WINDOW
    const [a, b] = [0, 1].map(() => createFailureThrottle({ name: 'retry', max: 3, maxAddresses: 10, store: () => store, now: () => now }))
    const admitted = async (t: typeof a): Promise<boolean> => (await t!.admit(ADDRESS)).admitted
    // Minute 5: b lets 2 through, a 1 (the store holds 3, b's count 2).
    expect([await admitted(b), await admitted(b), await admitted(a)]).toEqual([true, true, true])
    // Minute 6: b lets 2 more through as the last minute fades (b's count: 2 now, 2 last minute; the store's: 2 and 3).
    now = 6 * WINDOW + 1_000
    expect(await admitted(b)).toBe(true)
    now = 6 * WINDOW + 20_001
    expect(await admitted(b)).toBe(true)
    // b's own count refuses it (2 + 2 × 2/3 ≥ 3); the store's count admits again only at 40.001 s, not at 30.001 s.
    const refused = await b!.admit(ADDRESS)
    expect(refused).toEqual({ admitted: false, key: ADDRESS, retryAfterSec: 20 })
    now += (refused.admitted ? 0 : refused.retryAfterSec - 1) * 1_000
    expect(await admitted(b)).toBe(false)
    now += 1_000
    expect(await admitted(b)).toBe(true)
    await store.close()
  })

  it('a limit reached in a minute\'s first millisecond: Retry-After 60, refused a second sooner, admitted on time', async () => {
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    let now = 8 * WINDOW
    const t = createFailureThrottle({ name: 'retry', max: 3, maxAddresses: 10, store: () => store, now: () => now })
    for (let i = 0; i < 3; i++) expect((await t.admit(ADDRESS)).admitted).toBe(true)
    // An attempt exactly 60 s old is out of the last 60 s: 1:00.000 is free again (not 1:00.001, which made it 61).
    expect(await t.admit(ADDRESS)).toEqual({ admitted: false, key: ADDRESS, retryAfterSec: 60 })
    now += 59_999
    expect((await t.admit(ADDRESS)).admitted).toBe(false)
    now += 1
    expect((await t.admit(ADDRESS)).admitted).toBe(true)
    await store.close()
  })
})
