/**
 * Destination integrity as a property: for thousands of generated request targets — slashes,
 * dot-segments in every encoding and case, backslashes, `@`, `%00`, `%2F`, `?`/`#`
 * placement, IPv6 literals, userinfo, ports, very long paths — sent through all three ways in
 * (absolute-form, route mode, requests inside a CONNECT tunnel), each request is either
 * refused by the gateway with a 4xx JSON error, or arrives at exactly the configured origin
 * under the base path (and tenant segment), carrying that endpoint's certificate; and no
 * canary listener on any loopback address a target names ever sees a connection.
 *
 * Safety: the gateway and every peer run inside a loopback-only network namespace, and
 * every authority the generator writes is a loopback address, so no dial can leave the
 * machine even if the gateway were to follow a generated authority.
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { ensureDistBuilt, ROOT, startInNetns, type NetnsProcess } from '../support/netns.js'
import { caseArbitrary, type Case } from './destination-cases.js'

const SEED = 20261201
const BATCH = 60
const RUNS = 70 // × BATCH = 4200 requests

interface Arrival { upstream: string; url: string; host: string | null; subject: string | null; field: string | null }
interface Result { id: string; status: number; contentType: string | null; contentLength: string | null; body: string; error?: string; arrivals: Arrival[] }
interface BatchReply { results: Result[]; canaryHits: number; strayArrivals: unknown[] }

let pki: TestPki
let harness: NetnsProcess
let nextId = 0
const seen = { refused: 0, arrived: 0, byWay: {} as Record<string, number> }

beforeAll(async () => {
  await ensureDistBuilt()
  pki = await createTestPki('p256', ['api.partner.test', 'other.partner.test'])
  const otherClient = await pki.issue({ subject: 'CN=other-client', issuer: pki.inter, usages: ['clientAuth'] })
  pki.writePair('other-client', otherClient)
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  const tls = (client: string): string =>
    `    tls: { cert: ${pki.file(`${client}.crt`)}, key: ${pki.file(`${client}.key`)}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
  const ep = (name: string, url: string, client: string, extra = ''): string => `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}${tls(client)}`
  const yaml = `admin: { enabled: false }
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
endpoints:
${ep('partner', 'https://api.partner.test:8443/base', 'client', '    pathPrefix: /base\n    fields: [{ type: header, key: X-Partner-Key, value: "partner-field" }]\n')}${ep('tenanted', 'https://api.partner.test:8445/t/{tenant}/v1', 'client')}${ep('other', 'https://other.partner.test:8444', 'other-client')}`
  const configFile = pki.write('gateway.yaml', yaml)
  const server = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }
  const spec = {
    configFile,
    gatewayPort: 3128,
    interceptionCa: ica.caCert,
    tunnelAuthority: 'api.partner.test:8443',
    upstreams: [
      { name: 'partner', host: '127.0.0.1', port: 8443, ...server },
      { name: 'tenanted', host: '127.0.0.1', port: 8445, ...server },
      // A configured endpoint's origin: nothing generated for "partner" may land here.
      { name: 'other', host: '127.0.0.1', port: 8444, ...server, canary: true },
    ],
    canaries: [
      { host: '127.0.0.1', port: 9999 }, { host: '127.0.0.1', port: 80 }, { host: '127.0.0.1', port: 443 },
      { host: '127.0.0.2', port: 8443 }, { host: '127.0.0.1', port: 8446 }, { host: '::1', port: 9999 }, { host: '::1', port: 8443 },
    ],
  }
  const specFile = join(pki.dir, 'harness.json')
  writeFileSync(specFile, JSON.stringify(spec))
  // MUTANT_DIST=<another build's dist/> runs the same property against that build (e.g. the code before this fix).
  harness = await startInNetns(join(ROOT, 'test/support/destination-harness.mjs'), [specFile, process.env.MUTANT_DIST ?? join(ROOT, 'dist')])
}, 240_000)

afterAll(async () => {
  await harness?.close()
  pki?.cleanup()
})

/** The path a normalising backend would act on: WHATWG resolution, after one more decode. */
function normalised(url: string): string[] {
  const once = new URL(url, 'http://x').pathname
  let decoded = once
  try {
    decoded = decodeURIComponent(once)
  } catch {
    // keep the encoded form
  }
  return [once, new URL(decoded.replace(/\\/g, '/').replace(/^\/+/, '/'), 'http://x').pathname]
}

function isUnder(path: string, base: string): boolean {
  return path === base || path.startsWith(`${base}/`)
}

function check(c: Case, r: Result): void {
  const shown = c.target.length > 300 ? `${c.target.slice(0, 150)}…(${c.target.length} chars)…${c.target.slice(-100)}` : c.target
  const label = `${c.way} ${JSON.stringify(shown)} → ${r.status} ${(r.body ?? '').slice(0, 200)} ${r.error ?? ''}`
  if (r.status === -1) return // the Node client would not send it: nothing to judge
  expect(r.status, label).toBeGreaterThanOrEqual(200)
  if (r.status >= 400 && r.status < 500) {
    seen.refused++
    expect(r.contentType, label).toMatch(/^application\/json/)
    expect(Number(r.contentLength), label).toBe(Buffer.byteLength(r.body))
    expect(JSON.parse(r.body), label).toEqual({ errors: [{ msg: expect.any(String), code: r.status }] })
    expect(r.arrivals, label).toEqual([])
    return
  }
  expect(r.status, label).toBe(200)
  seen.arrived++
  expect(r.arrivals, label).toHaveLength(1)
  const a = r.arrivals[0] as Arrival
  expect(a.upstream, label).toBe(c.upstream)
  expect(a.host, label).toBe(c.upstream === 'partner' ? 'api.partner.test:8443' : 'api.partner.test:8445')
  expect(a.subject, label).toBe('bot-runtime')
  for (const p of normalised(a.url)) expect(isUnder(p, c.base), `${label} arrived as ${a.url}`).toBe(true)
  if (c.upstream === 'partner') expect(a.field, label).toBe('partner-field')
}

describe('destination integrity (property, in a loopback-only network namespace)', () => {
  it('every generated target is refused with 4xx JSON or arrives under the configured origin and base path; canaries stay silent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(caseArbitrary, { minLength: BATCH, maxLength: BATCH }), async (generated) => {
        const cases = generated.map((c) => ({ ...c, id: `c${nextId++}` }))
        const reply = await harness.ask<BatchReply>({ cases })
        const byId = new Map(reply.results.map((r) => [r.id, r]))
        for (const c of cases) {
          seen.byWay[c.way] = (seen.byWay[c.way] ?? 0) + 1
          check(c, byId.get(c.id) as Result)
        }
        expect(reply.strayArrivals).toEqual([])
        expect(reply.canaryHits).toBe(0)
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: true,
        // The failing request is named by check(); the whole batch (with 6 KB paths) would drown it.
        reporter: (out) => {
          if (out.failed) throw new Error(`seed ${out.seed}, path ${out.counterexamplePath ?? ''}: ${out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)}`)
        },
      },
    )
    // The generator must exercise both outcomes on every way in, or the property says little.
    console.info(`destination integrity: ${seen.refused} refused, ${seen.arrived} arrived, by way ${JSON.stringify(seen.byWay)}`)
    expect(seen.refused).toBeGreaterThan(1000)
    expect(seen.arrived).toBeGreaterThan(500)
    for (const way of ['forward', 'route', 'route_tenant', 'connect', 'connect_absolute']) expect(seen.byWay[way] ?? 0, way).toBeGreaterThan(300)
  }, 300_000)
})
