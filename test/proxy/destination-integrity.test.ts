/**
 * Destination integrity as a property: for thousands of generated request targets — slashes,
 * dot-segments in every encoding and case, backslashes, `@`, `%00`, `%2F`, `?`/`#`
 * placement, IPv6 literals, userinfo, ports, very long paths — sent through all three ways in
 * (absolute-form, route mode, requests inside a CONNECT tunnel), each request is either
 * refused by the gateway with a 4xx JSON error, or arrives at exactly the configured origin
 * under the base path (and tenant segment), carrying that endpoint's certificate; and no
 * canary listener on any loopback address a target names ever sees a connection.
 * The same holds when the caller's JWT claims fill authorization fields: a path-field value
 * never leaves the base path or tenant segment at any decoding depth (nor has whitespace a trimming
 * backend would drop), a header field arrives as exactly its value (visible ASCII, no edge whitespace) or is refused, and no value,
 * however malformed, gets a 5xx.
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
import { backendReadings, caseArbitrary, HEADER_VALUE_AS_IS, fieldCaseArbitrary, isWellFormed, ORDINARY_VALUE, segmentTexts, type Case } from './destination-cases.js'

const SEED = 20261201
const BATCH = 60
const RUNS = 100 // × BATCH = 6000 requests
const CALLER = { clientId: 'bot', secret: 'a-destination-test-secret-of-32-bytes!', audience: 'https://gateway.test' }
const HOSTS: Record<Case['upstream'], string> = {
  partner: 'api.partner.test:8443', tenanted: 'api.partner.test:8445', fielded: 'api.partner.test:8447', fielded_tenant: 'api.partner.test:8448', claimed: 'api.partner.test:8449',
}

interface Arrival { upstream: string; url: string; host: string | null; subject: string | null; field: string | null; acctHeader: string | null }
interface Result { id: string; status: number; contentType: string | null; contentLength: string | null; body: string; error?: string; arrivals: Arrival[] }
interface BatchReply { results: Result[]; canaryHits: number; strayArrivals: unknown[] }

let pki: TestPki
let harness: NetnsProcess
let nextId = 0
const seen = { refused: 0, arrived: 0, byWay: {} as Record<string, number>, byOutcome: {} as Record<string, number> }

beforeAll(async () => {
  await ensureDistBuilt()
  pki = await createTestPki('p256', ['api.partner.test', 'other.partner.test'])
  const otherClient = await pki.issue({ subject: 'CN=other-client', issuer: pki.inter, usages: ['clientAuth'] })
  pki.writePair('other-client', otherClient)
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  const tls = (client: string): string =>
    `    tls: { cert: ${pki.file(`${client}.crt`)}, key: ${pki.file(`${client}.key`)}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
  const ep = (name: string, url: string, client: string, extra = ''): string => `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}${tls(client)}`
  const acctField = '    fields: [{ type: path, key: acct, value: "{{claims.acct}}" }]\n'
  const claimFields = '    fields: [{ type: header, key: X-Acct, value: "{{claims.h}}" }, { type: query, key: acct, value: "{{claims.q}}" }]\n'
  // Caller apps so that claims can fill fields: every request carries a JWT bearer (the harness mints it).
  const yaml = `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')} }
callers:
  apps: [{ clientId: ${CALLER.clientId}, hs256Secret: "${CALLER.secret}", audience: "${CALLER.audience}", endpoints: ["*"] }]
interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }
endpoints:
${ep('partner', 'https://api.partner.test:8443/base', 'client', '    pathPrefix: /base\n    fields: [{ type: header, key: X-Partner-Key, value: "partner-field" }]\n')}${ep('tenanted', 'https://api.partner.test:8445/t/{tenant}/v1', 'client')}${ep('other', 'https://other.partner.test:8444', 'other-client')}${ep('fielded', '"https://api.partner.test:8447/d/{{acct}}/x"', 'client', acctField)}${ep('fielded_tenant', '"https://api.partner.test:8448/t/{tenant}/acct/{{acct}}"', 'client', acctField)}${ep('claimed', 'https://api.partner.test:8449', 'client', claimFields)}`
  const configFile = pki.write('gateway.yaml', yaml)
  const server = { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') }
  const spec = {
    configFile,
    gatewayPort: 3128,
    interceptionCa: ica.caCert,
    tunnelAuthority: 'api.partner.test:8443',
    caller: CALLER,
    upstreams: [
      { name: 'partner', host: '127.0.0.1', port: 8443, ...server },
      { name: 'tenanted', host: '127.0.0.1', port: 8445, ...server },
      { name: 'fielded', host: '127.0.0.1', port: 8447, ...server },
      { name: 'fielded_tenant', host: '127.0.0.1', port: 8448, ...server },
      { name: 'claimed', host: '127.0.0.1', port: 8449, ...server },
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

function isUnder(path: string, base: string): boolean {
  return path === base || path.startsWith(`${base}/`)
}

function check(c: Case, r: Result): void {
  const shown = c.target.length > 300 ? `${c.target.slice(0, 150)}…(${c.target.length} chars)…${c.target.slice(-100)}` : c.target
  const label = `${c.way} ${JSON.stringify(shown)} → ${r.status} ${(r.body ?? '').slice(0, 200)} ${r.error ?? ''}`
  if (r.status === -1) return // the Node client would not send it: nothing to judge
  expect(r.status, label).toBeGreaterThanOrEqual(200)
  if (c.claims !== undefined) checkFieldRefusal(c, c.claims, r, label)
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
  expect(a.host, label).toBe(HOSTS[c.upstream])
  expect(a.subject, label).toBe('bot-runtime')
  // Sent as the URL parser gives it back (the gateway skips the parse only where it changes nothing): a fixed point.
  const reparsed = new URL(a.url, `https://${HOSTS[c.upstream]}`)
  expect(reparsed.pathname + reparsed.search, `${label} arrived as ${a.url}`).toBe(a.url)
  for (const p of backendReadings(a.url)) expect(isUnder(p, c.base), `${label} arrived as ${a.url}`).toBe(true)
  if (c.upstream === 'partner') expect(a.field, label).toBe('partner-field')
  if (c.claims !== undefined) checkFieldArrival(c, c.claims, a, label)
}

/** Claims that fill fields: which ones must be refused, and that a refusal is the field's 400. */
function checkFieldRefusal(c: Case, claims: Record<string, string>, r: Result, label: string): void {
  const values = Object.values(claims)
  // A value any placement can carry is never refused: the checks are not over-broad.
  if (values.every((v) => ORDINARY_VALUE.test(v))) expect(r.status, `${label}: an ordinary value was refused`).toBe(200)
  if (c.way === 'claim_fields') {
    const sendable = HEADER_VALUE_AS_IS.test(claims.h ?? '') && isWellFormed(claims.q ?? '')
    expect(r.status, `${label}: ${sendable ? 'a sendable value was refused' : 'an unsendable value was not refused'}`).toBe(sendable ? 200 : 400)
  }
  expect([200, 400], label).toContain(r.status)
  if (r.status !== 400) return
  const msg = (JSON.parse(r.body) as { errors: { msg: string }[] }).errors[0]?.msg ?? ''
  expect(msg, label).toMatch(c.way === 'claim_fields' ? /field (header "X-Acct"|query "acct")/i : /(authorization field path|path field) "acct"/)
  // Never the value itself: it may be a secret (short values could appear in the text by chance).
  for (const v of values) if (v.length >= 6) expect(msg.includes(v), `${label}: the message echoes the value`).toBe(false)
}

/** A field-carrying arrival: the path field filled exactly one segment at every depth; header and query carry the claim exactly. */
function checkFieldArrival(c: Case, claims: Record<string, string>, a: Arrival, label: string): void {
  if (c.under !== undefined) {
    const under = new RegExp(c.under)
    for (const p of backendReadings(a.url)) expect(p, `${label}: arrived as ${a.url}, which a backend may read as ${p}`).toMatch(under)
    const segment = under.exec(new URL(a.url, 'http://x').pathname)?.[1] ?? ''
    // …and a backend that trims the segment reads the same value.
    for (const text of segmentTexts(segment)) expect(text.trim(), `${label}: arrived as ${a.url}, which a trimming backend reads as another value`).toBe(text)
    expect(decodeURIComponent(segment), `${label}: the segment is not the value`).toBe(claims.acct)
  }
  if (c.way === 'claim_fields') {
    // Exactly the claim: a value the upstream's parser would trim (RFC 9110 §5.5) or read in another encoding is refused.
    expect(a.acctHeader, label).toBe(claims.h)
    expect(new URL(a.url, 'http://x').searchParams.getAll('acct'), label).toEqual([claims.q])
  }
}

describe('destination integrity (property, in a loopback-only network namespace)', () => {
  it('every generated target is refused with 4xx JSON or arrives under the configured origin and base path; canaries stay silent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 5, arbitrary: caseArbitrary }, { weight: 3, arbitrary: fieldCaseArbitrary }), { minLength: BATCH, maxLength: BATCH }), async (generated) => {
        const cases = generated.map((c) => ({ ...c, id: `c${nextId++}` }))
        const reply = await harness.ask<BatchReply>({ cases })
        const byId = new Map(reply.results.map((r) => [r.id, r]))
        for (const c of cases) {
          const r = byId.get(c.id) as Result
          seen.byWay[c.way] = (seen.byWay[c.way] ?? 0) + 1
          seen.byOutcome[`${c.way} ${r.status === 200 ? 'arrived' : 'refused'}`] = (seen.byOutcome[`${c.way} ${r.status === 200 ? 'arrived' : 'refused'}`] ?? 0) + 1
          check(c, r)
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
    console.info(`destination integrity: ${seen.refused} refused, ${seen.arrived} arrived, by way ${JSON.stringify(seen.byWay)}, fields ${JSON.stringify(seen.byOutcome)}`)
    expect(seen.refused).toBeGreaterThan(1000)
    expect(seen.arrived).toBeGreaterThan(500)
    for (const way of ['forward', 'route', 'route_tenant', 'connect', 'connect_absolute', 'path_field', 'path_field_tenant', 'claim_fields']) expect(seen.byWay[way] ?? 0, way).toBeGreaterThan(300)
    for (const way of ['path_field', 'path_field_tenant', 'claim_fields']) {
      for (const outcome of ['arrived', 'refused']) expect(seen.byOutcome[`${way} ${outcome}`] ?? 0, `${way} ${outcome}`).toBeGreaterThan(100)
    }
  }, 300_000)
})
