/**
 * Which pools a reload keeps, as a property (fast-check, seeded): generated sequences of configs,
 * each compiled with the process's KeptPools as a reload does, the snapshot before then closed as
 * its retirement does. An endpoint's (or tenant bundle's) pool is kept exactly when nothing it is
 * built from changed: the bytes of its certificate and key (rewritten at the same paths), pins,
 * `serverName`, timeouts, `connections`, the token URLs of its profile; and never kept when one
 * of them did. Fields, host aliases and a profile's secret do not shape a pool. A replaced pool is
 * closed once the snapshot before lets go of it, a kept one never; nothing stays open after the
 * last snapshot closes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { compileGateway, createKeptPools, type Gateway, type Upstream } from '../../src/gateway/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'

interface State {
  aConnect: '10s' | '11s'
  aConnections: 4 | 5
  aCert: 0 | 1
  aPins: boolean
  aField: 'x' | 'y'
  aAlias: boolean
  tokenHost: 'tokens-1.test' | 'tokens-2.test'
  secret: 's1' | 's2'
  bResponse: '30s' | '31s'
  bServerName: boolean
  acmeCert: 0 | 1
}

const stateArb: fc.Arbitrary<State> = fc.record({
  aConnect: fc.constantFrom('10s', '11s'),
  aConnections: fc.constantFrom(4, 5),
  aCert: fc.constantFrom(0, 1),
  aPins: fc.boolean(),
  aField: fc.constantFrom('x', 'y'),
  aAlias: fc.boolean(),
  tokenHost: fc.constantFrom('tokens-1.test', 'tokens-2.test'),
  secret: fc.constantFrom('s1', 's2'),
  bResponse: fc.constantFrom('30s', '31s'),
  bServerName: fc.boolean(),
  acmeCert: fc.constantFrom(0, 1),
})

/** What each pool is built from, as this test sees it: the pool is kept iff these are all unchanged. */
const POOLS = {
  a: ['aConnect', 'aConnections', 'aCert', 'aPins', 'tokenHost'],
  b: ['bResponse', 'bServerName'],
  'b@acme': ['bResponse', 'acmeCert'],
  'b@globex': ['bResponse'],
} as const satisfies Record<string, readonly (keyof State)[]>
type PoolName = keyof typeof POOLS

let pki: TestPki
let dir: string
const identities: { cert: string; key: string }[] = []

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-kept-'))
  for (let i = 0; i < 2; i++) {
    const issued = await pki.issue({ subject: `CN=kept-${i}`, issuer: pki.inter, usages: ['clientAuth'] })
    const pair = pki.writePair(`kept-${i}`, issued)
    identities.push({ cert: pair.cert, key: pair.key })
  }
})

afterAll(() => {
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes `s` as the config and its bundle files (always rewritten, changed or not), and loads it. */
function configOf(s: State) {
  const copy = (identity: 0 | 1, base: string): void => {
    const id = identities[identity] as { cert: string; key: string }
    writeFileSync(join(dir, `${base}.crt`), readFileSync(id.cert))
    writeFileSync(join(dir, `${base}.key`), readFileSync(id.key), { mode: 0o600 })
  }
  copy(s.aCert, 'a')
  copy(s.acmeCert, 'acme')
  copy(0, 'b')
  copy(1, 'globex')
  const tls = (base: string, extra = ''): string => `{ cert: ${join(dir, `${base}.crt`)}, key: ${join(dir, `${base}.key`)}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')}${extra} }`
  const pin = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
  const yaml = `listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
profiles:
  - { name: p, consumerKey: ck, consumerSecret: ${s.secret}, requestTokenUrl: https://${s.tokenHost}/rt, accessTokenUrl: https://${s.tokenHost}/at, authorizeUrl: https://${s.tokenHost}/auth, token: { mode: static, token: t, tokenSecret: ts } }
endpoints:
  - name: a
    url: https://api.partner.test:8443
    profile: p
    hosts: [${s.aAlias ? 'alias.partner.test' : ''}]
    connections: ${s.aConnections}
    timeouts: { connect: ${s.aConnect} }
    fields: [{ type: header, key: X-F, value: ${s.aField} }]
    tls: ${tls('a', s.aPins ? `, pins: [${pin}]` : '')}
  - name: b
    url: https://{tenant}.b.partner.test
    timeouts: { response: ${s.bResponse} }
    tls: ${tls('b', s.bServerName ? ', serverName: b.partner.test' : '')}
    tenants:
      acme: { tls: ${tls('acme')} }
      globex: { tls: ${tls('globex')} }
`
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  return loadConfig(join(dir, 'gateway.yaml'))
}

function poolOf(g: Gateway, name: PoolName): Upstream {
  const [endpoint, tenant] = name.split('@') as [string, string | undefined]
  const e = g.endpoints.get(endpoint)
  const u = tenant === undefined ? e?.upstream : e?.tenantUpstreams.get(tenant)?.upstream
  if (!u) throw new Error(`no pool ${name}`)
  return u
}

/** One pool is another snapshot's when its methods are that pool's (each snapshot holds its own view of a kept pool). */
const samePool = (x: Upstream, y: Upstream): boolean => x.dispatch === y.dispatch && x.pool === y.pool

describe('a reload keeps exactly the pools nothing about changed', () => {
  it('generated config sequences (fast-check, seeded)', async () => {
    const seen = { kept: 0, replaced: 0 }
    await fc.assert(
      fc.asyncProperty(fc.array(stateArb, { minLength: 2, maxLength: 6 }), async (states) => {
        const kept = createKeptPools()
        let before = compileGateway(configOf(states[0] as State), { keptPools: kept })
        for (let i = 1; i < states.length; i++) {
          const [was, now] = [states[i - 1] as State, states[i] as State]
          const next = compileGateway(configOf(now), { keptPools: kept })
          const replaced: Upstream[] = []
          for (const [name, deps] of Object.entries(POOLS) as [PoolName, readonly (keyof State)[]][]) {
            const unchanged = deps.every((d) => was[d] === now[d])
            const [old, fresh] = [poolOf(before, name), poolOf(next, name)]
            expect(samePool(old, fresh), `${name}: ${JSON.stringify({ was, now })}`).toBe(unchanged)
            if (unchanged) seen.kept++
            else (seen.replaced++, replaced.push(old))
          }
          expect(next.pools).toEqual({ kept: Object.keys(POOLS).length - replaced.length, built: replaced.length })
          await before.close()
          // The retired snapshot's own pools are closed; the kept ones serve the snapshot in force.
          for (const old of replaced) expect(old.pool().closed).toBe(true)
          for (const name of Object.keys(POOLS) as PoolName[]) expect(poolOf(next, name).pool().closed).toBe(false)
          expect(kept.size).toBe(Object.keys(POOLS).length)
          before = next
        }
        await before.close()
        expect(kept.size).toBe(0)
        for (const name of Object.keys(POOLS) as PoolName[]) expect(poolOf(before, name).pool().closed).toBe(true)
      }),
      { seed: 20261206, numRuns: 60 },
    )
    // Both outcomes were exercised many times.
    expect(seen.kept).toBeGreaterThan(100)
    expect(seen.replaced).toBeGreaterThan(100)
  }, 120_000)

  it('a snapshot that is never put in force (a compile a reload then refuses) lets go of what it took', async () => {
    const kept = createKeptPools()
    const state = fc.sample(stateArb, { seed: 7, numRuns: 1 })[0] as State
    const running = compileGateway(configOf(state), { keptPools: kept })
    const refused = compileGateway(configOf(state), { keptPools: kept })
    expect(samePool(poolOf(running, 'a'), poolOf(refused, 'a'))).toBe(true)
    await refused.close()
    await refused.close() // a second close lets go of nothing more
    expect(poolOf(running, 'a').pool().closed).toBe(false)
    await running.close()
    expect(poolOf(running, 'a').pool().closed).toBe(true)
    expect(kept.size).toBe(0)
  })
})
