/**
 * `promtool check metrics` (Prometheus's own lint: names, units, `_total` on counters only, HELP
 * and TYPE) on real scrapes of a gateway that served every kind of request: route mode, an
 * absolute-form forward request, a CONNECT, the gateway API, the console, an upstream handshake
 * failure and a dead backend. In-process and as the `serve --workers 2` primary's aggregate. The
 * gateway's own families lint clean; the only findings are prom-client's Node gauges
 * `nodejs_active_{handles,requests,resources}_total`, kept unprefixed and as prom-client spells
 * them so stock Node.js dashboards work (README, Operations; stock-dashboards.test.ts).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { startUpstreamKinds, type UpstreamKinds } from '../support/upstream-kinds.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { get, spawnTwoWorkers, startOpsGateway } from './helpers.js'

/** What promtool reports on prom-client's default Node metrics, and nothing else is allowed. */
const PROM_CLIENT_FINDINGS = [
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]

let upstreams: UpstreamKinds | undefined
let yaml: string

/** promtool's findings on an exposition, each once, sorted (it exits 1 when it has any). */
function lint(exposition: string): string[] {
  let out: string
  try {
    out = execFileSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string }
    out = `${err.stdout ?? ''}${err.stderr ?? ''}`
  }
  return [...new Set(out.split('\n').map((l) => l.trim()).filter((l) => l !== ''))].sort()
}

/** A CONNECT to a host no endpoint names: refused, counted as a tunnel of kind refused. */
function refusedConnect(gatewayUrl: string): Promise<string> {
  const { hostname, port } = new URL(gatewayUrl)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(Number(port), hostname, () => s.write('CONNECT nowhere.test:443 HTTP/1.1\r\nHost: nowhere.test:443\r\n\r\n'))
    s.on('data', (c: Buffer) => { chunks.push(c); if (Buffer.concat(chunks).includes('\r\n\r\n')) s.end() })
    s.on('error', reject)
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}

/** Every kind of request, once, through the gateway at `url`; then the admin listener's scrape. */
async function servedEverything(url: string, adminUrl: string): Promise<string> {
  expect((await send(url, '/proxy/partner/a')).status).toBe(200)
  expect((await send(url, '/proxy/partner/b', { method: 'POST', body: '{}' })).status).toBe(200)
  expect((await send(url, '/proxy/stranger/x')).status).toBe(502)
  expect((await send(url, '/proxy/down/x')).status).toBe(502)
  expect((await send(url, 'http://nowhere.test/x')).status).toBeGreaterThanOrEqual(400)
  expect(await refusedConnect(url)).toMatch(/^HTTP\/1\.1 [45]\d\d /)
  expect((await send(url, '/gateway/no-such-route')).status).toBe(404)
  expect((await get(`${adminUrl}/console/`)).status).toBeLessThan(500)
  const r = await get(`${adminUrl}/metrics`)
  expect(r.status).toBe(200)
  return r.text
}

beforeAll(async () => {
  const u = (upstreams = await startUpstreamKinds())
  const tls = clientTls(u.pki)
  yaml = `endpoints:\n${endpointYaml('partner', u.serving.port, tls)}${endpointYaml('stranger', u.untrusted.port, tls)}${endpointYaml('down', u.refusing, tls)}`
}, 5 * 60_000)

afterAll(async () => {
  await upstreams?.close()
})

describe('promtool check metrics on a gateway that served every kind of request', () => {
  it('finds nothing in the gateway\'s own families (in-process)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-lint-'))
    const g = await startOpsGateway(dir, yaml, { watch: false })
    try {
      expect(lint(await servedEverything(g.gw.url, g.adminUrl))).toEqual(PROM_CLIENT_FINDINGS)
    } finally {
      await g.gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it('finds nothing in the `serve --workers 2` primary\'s aggregate either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-lint-workers-'))
    const { gp } = await spawnTwoWorkers(dir, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n${yaml}`)
    try {
      expect(lint(await servedEverything(gp.url, await adminUrlOf(gp)))).toEqual(PROM_CLIENT_FINDINGS)
    } finally {
      await gp.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
