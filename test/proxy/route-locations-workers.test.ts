/**
 * Route mode's Location mapping (src/proxy/route-locations.ts) on both workers of the real
 * gateway (--workers 2), and after a hot reload that moves the endpoint's base path and sets
 * listen.publicUrl: the new base path is the one mapped, as on a fresh start, and the mapped
 * reference is the same relative `/proxy/…` one (publicUrl and the Host header play no part).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { rawRoundTrip } from '../support/raw-client.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

interface Rig {
  pki: TestPki
  upstream: RunningServer
  dir: string
  config: string
  gp: GatewayProcess
}
let rig: Rig | undefined

/** Redirects to the path named by the request's `x-to` header. */
function backend(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(302, { location: String(req.headers['x-to'] ?? '/'), 'content-length': 0 })
  res.end()
}

function yaml(r: Pick<Rig, 'pki' | 'upstream'>, base: string, publicUrl = ''): string {
  const listen = publicUrl === '' ? '{ host: 127.0.0.1, port: 0 }' : `{ host: 127.0.0.1, port: 0, publicUrl: "${publicUrl}" }`
  return `listen: ${listen}\nadmin: { enabled: false }\nendpoints:\n  - { name: a, url: "https://api.partner.test:${r.upstream.port}${base}", resolve: 127.0.0.1, allowPrivate: true, tls: ${clientTlsYaml(r.pki)} }\n`
}

beforeAll(async () => {
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: backend })
  const dir = mkdtempSync(join(tmpdir(), 'route-locations-workers-'))
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, yaml({ pki, upstream }, '/base'))
  rig = { pki, upstream, dir, config, gp: await spawnGateway(config, ['--workers', '2']) }
}, 120_000)

afterAll(async () => {
  if (!rig) return
  await rig.gp.stop()
  await rig.upstream.close()
  rig.pki.cleanup()
  rmSync(rig.dir, { recursive: true, force: true })
})

function started(): Rig {
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
    const { gp, config } = started()
    const from = gp.output.length
    writeFileSync(config, yaml(started(), '/v2', 'https://gateway.example.test'))
    gp.child.kill('SIGHUP')
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
    await checkRounds('/v2', '/base')
  }, 120_000)
})
