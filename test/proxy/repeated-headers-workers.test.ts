/**
 * A user or tenant header sent twice is a 400 header_repeated that reaches no backend, on both
 * workers of the real gateway (--workers 2), and after a hot reload that renames the tenant header
 * the new name is the one refused twice, as on a fresh start (the old name is then an ordinary
 * header, forwarded). Counted in the access log under its reason. Real mTLS backend, raw bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { clientTlsYaml } from '../support/pki.js'
import { rawRoundTrip, type RawResponse } from '../support/raw-client.js'
import { echo, type EchoReply } from '../support/tls-server.js'
import { reloadWorkers, startWorkersRig, stopWorkersRig, type WorkersRig } from '../support/workers-rig.js'

/** The backend, the gateway process and its config file; `calls` counts what reached the backend. */
type Rig = WorkersRig
let rig: Rig | undefined
let calls = 0

/** The config: one tenanted endpoint whose tenant header is `tenantHeader`. */
function yaml(r: Pick<Rig, 'pki' | 'upstream'>, tenantHeader: string): string {
  const endpoint = { name: 'tenanted', url: `https://localhost:${r.upstream.port}/t/{tenant}`, tenantHeader, resolve: '127.0.0.1', allowPrivate: true }
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n  - ${JSON.stringify(endpoint).slice(0, -1)}, "tls": ${clientTlsYaml(r.pki)} }\n`
}

beforeAll(async () => {
  rig = await startWorkersRig('repeated-headers-workers', (req, res) => (calls++, echo(req, res)), (r) => yaml(r, 'X-Org'))
}, 120_000)

afterAll(() => stopWorkersRig(rig))

function started(): Rig {
  if (!rig) throw new Error('the gateway did not start')
  return rig
}

/** A route-mode call with these header lines, on a new connection (so either worker may answer). */
function call(lines: string[]): Promise<RawResponse> {
  return rawRoundTrip(Number(new URL(started().gp.url).port), `${['GET /proxy/tenanted/x HTTP/1.1', 'Host: gw', ...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`)
}

function expectRepeated(r: RawResponse, label: string): void {
  const msg = `${label} appears more than once in the request: the gateway does not guess which one counts; send it once`
  expect([r.status, r.body.toString('utf8')]).toEqual([400, JSON.stringify({ errors: [{ msg, code: 400 }] })])
  expect(Number(r.headers['content-length'])).toBe(r.body.length)
}

/** Several rounds of each case; then both workers must have answered refusals, each logged under header_repeated. */
async function checkEveryCase(tenantHeader: string, other: string): Promise<void> {
  const { gp } = started()
  const from = gp.output.length
  const rounds = 4
  for (let round = 0; round < rounds; round++) {
    const ok = await call([`${tenantHeader}: Acme`, 'X-Gateway-User: a, b', `${other}: one`, `${other.toLowerCase()}: two`])
    expect(ok.status, ok.body.toString()).toBe(200)
    const seen = JSON.parse(ok.body.toString('utf8')) as EchoReply
    expect(seen.url).toBe('/t/acme/x')
    // Not the tenant header (any more): an ordinary header, joined and forwarded as before.
    expect(seen.headers[other.toLowerCase()]).toBe('one, two')
    const before = calls
    expectRepeated(await call([`${tenantHeader}: acme`, `${tenantHeader.toUpperCase()}: beta`]), tenantHeader)
    expectRepeated(await call([`${tenantHeader}: acme`, 'X-Gateway-User: a', 'x-gateway-user: b']), 'X-Gateway-User')
    expect(calls).toBe(before)
  }
  // Each worker writes its access lines in batches (at most a quarter second late): wait for all of them.
  const pids = await eventually(() => {
    const lines = gp.logEntries(from).filter((e) => e.msg === 'request' && e.status === 400 && e.reason === 'header_repeated')
    return lines.length === 2 * rounds && new Set(lines.map((e) => e.pid))
  }, 15_000, `${2 * rounds} access lines of the refusals`)
  expect(pids.size).toBe(2)
}

describe('a repeated user or tenant header with --workers 2', () => {
  it('is refused by both workers, and nothing reaches the backend', async () => {
    await checkEveryCase('X-Org', 'X-Customer')
  }, 120_000)

  it('after a reload that renames the tenant header, the new name is the one refused twice', async () => {
    await reloadWorkers(started(), yaml(started(), 'X-Customer'))
    await checkEveryCase('X-Customer', 'X-Org')
  }, 120_000)
})
