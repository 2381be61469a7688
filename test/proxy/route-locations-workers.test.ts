/**
 * Route mode's Location mapping (src/proxy/route-locations.ts) on both workers of the real
 * gateway (--workers 2), and after a hot reload that moves the endpoint's base path and sets
 * listen.publicUrl: the new base path is the one mapped, as on a fresh start, and the mapped
 * reference is the same relative `/proxy/…` one (publicUrl and the Host header play no part).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { clientTlsYaml } from '../support/pki.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { reloadWorkers, startWorkersRig, stopWorkersRig, type WorkersRig } from '../support/workers-rig.js'

let rig: WorkersRig | undefined

/** Redirects to the path named by the request's `x-to` header. */
function backend(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(302, { location: String(req.headers['x-to'] ?? '/'), 'content-length': 0 })
  res.end()
}

function yaml(r: Pick<WorkersRig, 'pki' | 'upstream'>, base: string, publicUrl = ''): string {
  const listen = publicUrl === '' ? '{ host: 127.0.0.1, port: 0 }' : `{ host: 127.0.0.1, port: 0, publicUrl: "${publicUrl}" }`
  return `listen: ${listen}\nadmin: { enabled: false }\nendpoints:\n  - { name: a, url: "https://api.partner.test:${r.upstream.port}${base}", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(r.pki)} }\n`
}

beforeAll(async () => {
  rig = await startWorkersRig('route-locations-workers', backend, (r) => yaml(r, '/base'))
}, 120_000)

afterAll(() => stopWorkersRig(rig))

function started(): WorkersRig {
  if (!rig) throw new Error('the gateway did not start')
  return rig
}

/** The Location a route-mode caller gets when the backend redirects to `to` (a new connection: either worker may answer). */
async function locationFor(to: string): Promise<string> {
  const r = await rawRoundTrip(Number(new URL(started().gp.url).port), `GET /proxy/a/x HTTP/1.1\r\nHost: evil.test\r\nX-To: ${to}\r\nConnection: close\r\n\r\n`)
  expect(r.status).toBe(302)
  return String(r.headers.location)
}

/** Several rounds; both workers must have answered (their access lines name their pids). */
async function checkRounds(base: string, other: string): Promise<void> {
  const { gp, upstream } = started()
  const from = gp.output.length
  const rounds = 6
  for (let i = 0; i < rounds; i++) {
    expect(await locationFor(`${base}/next?i=${i}`)).toBe(`/proxy/a/next?i=${i}`)
    expect(await locationFor(`https://api.partner.test:${upstream.port}${base}/deep/n`)).toBe('/proxy/a/deep/n')
    expect(await locationFor(`${other}/next`)).toBe(`https://api.partner.test:${upstream.port}${other}/next`)
  }
  const pids = await eventually(() => {
    const lines = gp.logEntries(from).filter((e) => e.msg === 'request' && e.status === 302)
    return lines.length === 3 * rounds && new Set(lines.map((e) => e.pid))
  }, 15_000, `${3 * rounds} access lines`)
  expect(pids.size).toBe(2)
}

describe('route-mode Location mapping with --workers 2', () => {
  it('maps the base path on both workers', async () => {
    await checkRounds('/base', '/v2')
  }, 120_000)

  it('after a reload that moves the base path and sets publicUrl, the new base path is mapped, to the same relative route', async () => {
    await reloadWorkers(started(), yaml(started(), '/v2', 'https://gateway.example.test'))
    await checkRounds('/v2', '/base')
  }, 120_000)
})
