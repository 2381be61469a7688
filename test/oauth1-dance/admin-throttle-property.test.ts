/**
 * The wrong-admin-token throttle's promise end to end, on real processes sharing one Redis (a
 * unique key prefix): a gateway with `--workers 2` and a second gateway process. Seeded runs of
 * right and wrong admin tokens from one address, in batches sent at once to either process:
 * within a minute the address gets at most 20 wrong tokens let through, the store's counter
 * holds exactly the wrong ones let through (right ones and refusals give theirs back), and a
 * right token is never refused while the address is under the limit (the store's count plus
 * the batch's wrong ones below 20), however many right ones are in flight with them (some
 * batches hold more than 20 right ones). And on a Redis whose every write lands but fails
 * (replicas that do not confirm it), 60 wrong tokens at once get no more than 20 through, where
 * each process's own count let 20 through apiece. Needs the dist build.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openRedisStore, type Store } from '../../src/store/index.js'
import { endpointYaml } from '../support/gateway.js'
import { newSealKey } from './dance-support.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { inOneWindow, requestFrom } from '../api/throttle-support.js'

const ADMIN = 'operator-token-of-enough-length-0002'
const MAX = 20
const keyPrefix = uniqueRedisPrefix()
let pki: TestPki
let store: Store
let gateways: GatewayProcess[] = []

/** A revocation with `token` on a connection of its own from `from`: 'wrong' (401), 'right' (let through: 404, no such token) or 'refused' (429). */
async function revoke(url: string, from: string, token: string): Promise<'wrong' | 'right' | 'refused'> {
  const { status, text } = await requestFrom(`${url}/gateway/oauth1/bench/tokens/nobody`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, localAddress: from })
  if (status === 429) return 'refused'
  if (status === 401) return 'wrong'
  // Let through: the user has no token to revoke.
  expect([status, text]).toEqual([404, JSON.stringify({ errors: [{ msg: 'no token stored for that user with profile "bench"', code: 404 }] })])
  return 'right'
}

/** The count `on` holds of `from`'s attempts, summed over its minutes' counters. */
async function storeCount(from: string, on: Store = store): Promise<number> {
  let n = 0
  for (const k of await on.keys(`throttle:oauth1-admin:v4_${from}:`)) n += Number(await on.get(k))
  return n
}

/** The gateway config on the shared Redis under `prefix`, with `redis` as its store.redis. */
function configFile(name: string, prefix: string, redis = ''): string {
  const file = join(pki.dir, `${name}.yaml`)
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}", sealKeys: [{ id: k1, key: "${newSealKey()}" }]${redis} }\n` +
      `callers: { adminToken: "${ADMIN}" }\n` +
      `profiles:\n  - { name: bench, consumerKey: ck, consumerSecret: cs, requestTokenUrl: "https://api.partner.test:1/request", accessTokenUrl: "https://api.partner.test:1/access", authorizeUrl: "https://api.partner.test:1/authorize", token: { mode: per_user } }\n` +
      `endpoints:\n${endpointYaml('partner', 1, clientTls(pki), '    profile: bench\n')}`,
  )
  return file
}

/** A gateway with `--workers 2` and one more process on `file`. */
const startBoth = (file: string): Promise<GatewayProcess[]> => Promise.all([spawnGateway(file, ['--workers', '2']), spawnGateway(file, [])])

beforeAll(async () => {
  pki = await createTestPki()
  gateways = await startBoth(configFile('gateway', keyPrefix))
  store = openRedisStore({ url: REDIS_URL, keyPrefix })
}, 120_000)

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop('SIGKILL')))
  await store?.close()
  await wipeRedisPrefix(keyPrefix)
  pki?.cleanup()
})

describe('wrong admin tokens from one address across --workers 2 and a second gateway on one Redis', () => {
  it('property: at most 20 wrong tokens let through a minute, the store counts exactly those, and a right token is never refused while the wrong ones let through stay under 20, however many arrive at once (12 seeded runs)', async () => {
    const attempt = fc.record({ gateway: fc.nat({ max: 1 }), right: fc.constantFrom(false, false, false, true) })
    // Now and then a batch of more right tokens at once than the limit allows wrong ones.
    const rights = fc.array(fc.record({ gateway: fc.nat({ max: 1 }), right: fc.constant(true) }), { minLength: MAX + 1, maxLength: MAX + 10 })
    const batches = fc.array(fc.oneof({ arbitrary: fc.array(attempt, { minLength: 1, maxLength: 5 }), weight: 6 }, { arbitrary: rights, weight: 1 }), { minLength: 8, maxLength: 14 })
    await fc.assert(
      fc.asyncProperty(batches, async (runs) => {
        await inOneWindow(async (from) => {
          let wrongLetThrough = 0
          for (const batch of runs) {
            const before = await storeCount(from)
            const outcomes = await Promise.all(batch.map(({ gateway, right }, i) => revoke(gateways[gateway]!.url, from, right ? ADMIN : `wrong-token-${i}-${before}`)))
            wrongLetThrough += outcomes.filter((o) => o === 'wrong').length
            // Under the limit with this batch's wrong ones counted: nothing refused, however many right ones are in flight
            // (before, right ones held a place until compared, so a batch past the limit refused right ones too).
            if (before + batch.filter((a) => !a.right).length < MAX) expect(outcomes).not.toContain('refused')
            // At the limit: refused, right token or wrong (the minute is not over: inOneWindow).
            if (before >= MAX) expect(outcomes).toEqual(batch.map(() => 'refused'))
            batch.forEach(({ right }, i) => expect(outcomes[i]).toBe(outcomes[i] === 'refused' ? 'refused' : right ? 'right' : 'wrong'))
            expect(wrongLetThrough).toBeLessThanOrEqual(MAX)
            expect(await storeCount(from)).toBe(wrongLetThrough)
          }
        })
      }),
      { seed: Number(process.env.SEED ?? 0xad317), numRuns: Number(process.env.RUNS ?? 12) },
    )
  }, 120_000)
})

describe('the same on a Redis whose writes land but fail (replicasToAcknowledge 1, the test server has no replica)', () => {
  const prefix = uniqueRedisPrefix()
  let lossy: GatewayProcess[] = []
  let plain: Store
  beforeAll(async () => {
    lossy = await startBoth(configFile('lossy', prefix, ', redis: { replicasToAcknowledge: 1, acknowledgeTimeout: 20ms }'))
    plain = openRedisStore({ url: REDIS_URL, keyPrefix: prefix })
  }, 120_000)
  afterAll(async () => {
    await Promise.all(lossy.map((g) => g.stop('SIGKILL')))
    await plain?.close()
    await wipeRedisPrefix(prefix)
  })

  it('60 wrong tokens at once across the three processes: at most 20 let through (each process\'s own count let 20 each through), and the store counts them', async () => {
    await inOneWindow(async (from) => {
      const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => revoke(lossy[i % 2]!.url, from, `wrong-token-${i}`)))
      const letThrough = outcomes.filter((o) => o === 'wrong').length
      expect(letThrough).toBeLessThanOrEqual(MAX)
      expect(await storeCount(from, plain)).toBe(letThrough)
    })
  })
})
