/**
 * /metrics after reloads looks like a fresh start with the last file: for generated config
 * sequences A → B (→ C → D) of endpoints and the OAuth profiles they sign with, each kept,
 * removed or added back by a reload, a scrape after each reload or not, a gateway starts with
 * A, takes traffic and reloads in turn; another starts with the last config and takes the same
 * traffic on the endpoints every config kept. Both expose the same series (names and labels;
 * Node's process families aside), so an endpoint or profile a reload removed leaves no
 * counter, histogram or gauge behind (no dashboard or certificate alert for what no longer
 * exists), one added back starts from nothing, and a kept endpoint or profile keeps its counts.
 * Seeded property, one process (the `--workers 2` primary's aggregate: reload-series-workers.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { startUpstreamKinds, type UpstreamKinds } from '../support/upstream-kinds.js'
import { endpointYaml, send } from '../support/gateway.js'
import { replaceFile, scrape, startOpsGateway, valueOf, type Sample } from './helpers.js'

/** How each endpoint of the pool answers: its upstream serves, refuses connections, or presents a certificate of another PKI. */
type Kind = 'serves' | 'refuses' | 'untrusted'
/** The endpoint pool: a name, how its upstream answers, and the profile it signs with (if any). */
const POOL: readonly { name: string; kind: Kind; profile?: string }[] = [
  { name: 'alpha', kind: 'serves', profile: 'p-one' },
  { name: 'bravo', kind: 'refuses' },
  { name: 'charlie', kind: 'untrusted', profile: 'p-two' },
  { name: 'delta', kind: 'serves' },
  { name: 'echo', kind: 'serves', profile: 'p-two' },
]

let u: UpstreamKinds
let dir: string

beforeAll(async () => {
  u = await startUpstreamKinds()
  dir = mkdtempSync(join(tmpdir(), 'reload-series-'))
}, 5 * 60_000)

afterAll(async () => {
  await u?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The config of the pool's endpoints `names` (in pool order), with the profiles they sign with. */
function yamlOf(names: ReadonlySet<string>): string {
  const chosen = POOL.filter((e) => names.has(e.name))
  const port = (k: Kind): number => (k === 'serves' ? u.serving.port : k === 'refuses' ? u.refusing : u.untrusted.port)
  const endpoints = chosen.map((e) => endpointYaml(e.name, port(e.kind), clientTls(u.pki), e.profile ? `    profile: ${e.profile}\n` : '')).join('')
  const profiles = [...new Set(chosen.flatMap((e) => (e.profile ? [e.profile] : [])))]
  const profileYaml = profiles.length === 0 ? '' : `profiles:\n${profiles.map((p) => `  - { name: ${p}, consumerKey: ck-${p}, consumerSecret: cs-${p} }\n`).join('')}`
  return `admin: { port: 0 }\nendpoints:\n${endpoints}${profileYaml}`
}

/** A series as names and labels (a histogram's parts and buckets as one); Node's process families aside. */
function seriesSet(all: readonly Sample[]): string[] {
  const out = new Set<string>()
  for (const s of all) {
    if (/^(process|nodejs)_/.test(s.name)) continue
    const { le: _le, ...labels } = s.labels
    out.add(`${s.name.replace(/_(bucket|sum|count)$/, '')}${JSON.stringify(Object.fromEntries(Object.entries(labels).sort()))}`)
  }
  return [...out].sort()
}

/** One call on each endpoint of `calls` (in order), each answered. */
async function traffic(url: string, calls: readonly string[]): Promise<void> {
  for (const name of calls) await send(url, `/proxy/${name}/x`)
}

const subset = fc.subarray(POOL.map((e) => e.name), { minLength: 1 })
/** The config a gateway starts with and the ones it reloads to in turn, each reload followed by a scrape or not. */
const sequence = fc.array(fc.record({ names: subset, scraped: fc.boolean() }), { minLength: 2, maxLength: 4 })

/** The profiles every config of `configs` has: a profile one of them lacked starts from nothing. */
function profilesThroughout(configs: readonly (readonly string[])[]): Set<string> {
  const of = (names: readonly string[]): Set<string> => new Set(names.flatMap((n) => POOL.find((e) => e.name === n)?.profile ?? []))
  const sets = configs.map(of)
  return new Set([...(sets[0] ?? [])].filter((p) => sets.every((s) => s.has(p))))
}

describe('series after reloads, as after a fresh start with the last file', () => {
  it('are the same, whatever endpoints and profiles each reload keeps, removes or adds back (seeded property)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(sequence, fc.func(fc.boolean()), async (configs, called) => {
        const first = configs[0]?.names ?? []
        const later = configs.slice(1)
        const last = configs[configs.length - 1]?.names ?? []
        const calls = first.filter((name) => called(name))
        const runDir = mkdtempSync(join(dir, `run-${run++}-`))
        const freshDir = mkdtempSync(join(dir, `fresh-${run}-`))
        const reloaded = await startOpsGateway(runDir, yamlOf(new Set(first)), { watch: false })
        let fresh: Awaited<ReturnType<typeof startOpsGateway>> | undefined
        try {
          await traffic(reloaded.gw.url, calls)
          // A scrape before the first reload: what it read is what must not stay.
          await scrape(reloaded.adminUrl)
          for (const { names, scraped } of later) {
            replaceFile(join(runDir, 'gateway.yaml'), yamlOf(new Set(names)))
            expect(await reloaded.gw.ops?.reload('test')).toMatchObject({ ok: true })
            if (scraped) await scrape(reloaded.adminUrl)
          }
          fresh = await startOpsGateway(freshDir, yamlOf(new Set(last)), { watch: false })
          // The same traffic on the endpoints every config kept.
          const kept = calls.filter((name) => later.every((c) => c.names.includes(name)))
          await traffic(fresh.gw.url, kept)
          const [after, start] = [await scrape(reloaded.adminUrl), await scrape(fresh.adminUrl)]
          const SIGNATURES = 'mtls_gateway_oauth_signatures_total'
          expect(seriesSet(after.filter((s) => s.name !== SIGNATURES))).toEqual(seriesSet(start.filter((s) => s.name !== SIGNATURES)))
          // A kept endpoint keeps its counts: the same traffic, the same values.
          for (const name of kept) {
            for (const status_class of ['2xx', '5xx']) {
              const labels = { endpoint: name, method: 'GET', status_class }
              expect(valueOf(after, 'mtls_gateway_requests_total', labels), JSON.stringify(labels)).toBe(valueOf(start, 'mtls_gateway_requests_total', labels))
            }
          }
          // A profile counts the signatures of every endpoint that signs with it: one every config kept keeps those of an endpoint removed.
          const throughout = profilesThroughout(configs.map((c) => c.names))
          const signed = new Map<string, number>()
          for (const name of calls) {
            const profile = POOL.find((e) => e.name === name)?.profile
            if (profile && throughout.has(profile)) signed.set(profile, (signed.get(profile) ?? 0) + 1)
          }
          expect(Object.fromEntries(after.filter((s) => s.name === SIGNATURES).map((s) => [s.labels.profile, s.value]))).toEqual(Object.fromEntries(signed))
        } finally {
          await reloaded.gw.close()
          await fresh?.gw.close()
          rmSync(runDir, { recursive: true, force: true })
          rmSync(freshDir, { recursive: true, force: true })
        }
      }),
      { seed: 0x5e41e5, numRuns: 30, endOnFailure: true },
    )
  }, 15 * 60_000)
})
