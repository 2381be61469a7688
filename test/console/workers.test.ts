/**
 * With `serve --workers 2` the cluster primary serves the console and shows the whole
 * instance: both workers' requests summed (as /metrics sums them), the last handshake
 * a worker made, Test and authorize links run from the primary, Reload relayed to every
 * worker, and one sign-in throttle (per source address) in the primary.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clickLink, startDanceProvider, type DanceProvider } from '../oauth1-dance/dance-support.js'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, scrape, valueOf } from '../ops/helpers.js'
import { adminRequest, apiSession, CONSOLE_TOKEN, rigYaml } from './console-support.js'
import { inOneWindow, times } from '../api/throttle-support.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let provider: DanceProvider
let upstream: RunningServer
let gp: GatewayProcess
let dir: string
let consoleUrl: string

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = mkdtempSync(join(tmpdir(), 'console-workers-'))
  const tls = clientTls(pki)
  const yaml = rigYaml(pki, provider, dir).replace('profiles:\n', `${endpointYaml('plain', upstream.port, tls)}profiles:\n`)
  writeFileSync(join(dir, 'gateway.yaml'), yaml)
  gp = await spawnGateway(join(dir, 'gateway.yaml'), ['--workers', '2'], { MTLS_GATEWAY_TEST_CONSOLE_TOKEN: CONSOLE_TOKEN })
  consoleUrl = `${await adminUrlOf(gp)}/console/`
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('console with --workers 2', () => {
  it('shows both workers\' traffic summed, the last handshake, and runs Test, Test connection, links and Reload from the primary', async () => {
    const s = await apiSession(consoleUrl)
    const get = async <T>(name: string): Promise<T> => {
      const r = await adminRequest(`${consoleUrl}api/${name}`, { cookie: s.cookie })
      expect(r.status, r.text).toBe(200)
      return JSON.parse(r.text) as T
    }
    const post = async <T>(name: string, body: unknown): Promise<T> => {
      const r = await adminRequest(`${consoleUrl}api/${name}`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body })
      expect(r.status, r.text).toBe(200)
      return JSON.parse(r.text) as T
    }
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => send(gp.url, `/proxy/plain/w${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200))
    const accessPids = (): number[] => gp.output.filter((l) => l.includes('"msg":"request"')).map((l) => (JSON.parse(l) as { pid: number }).pid)
    const pids = await eventually(() => accessPids().length === 20 && new Set(accessPids()), 30_000, '20 access-log lines')
    expect(pids.size).toBe(2)

    const overview = await get<{ workers: number; totals: { requests: number } }>('overview')
    expect(overview.workers).toBe(2)
    expect(overview.totals.requests).toBe(20)

    const { rows } = await get<{ rows: { endpoint: string; handshake: { last?: { protocol: string } } }[] }>('endpoints')
    expect(rows.find((r) => r.endpoint === 'plain')?.handshake.last?.protocol).toMatch(/^TLSv1\.[23]$/)

    expect((await post<{ ok: boolean }>('profiles/test', { profile: 'partner' })).ok).toBe(true)
    const failed = await post<{ ok: boolean; response: { status: number } }>('profiles/test', { profile: 'partner-wrong' })
    expect(failed.ok).toBe(false)
    expect(failed.response.status).toBe(401)

    // Test connection from the primary (which serves no request): the steps of a new connection to `plain`.
    const tested = await post<{ ok: boolean; steps: { result: string; detail?: string }[] }>('endpoints/test', { endpoint: 'plain' })
    expect([tested.ok, tested.steps.map((x) => x.result)]).toEqual([true, Array(5).fill('ok')])
    expect(tested.steps[0]?.detail).toBe(`connected to 127.0.0.1:${upstream.port}`)

    const link = await post<{ url: string }>('users/link', { app: '', profile: 'partner', user: 'gina' })
    expect(link.url.startsWith(`${gp.url}/gateway/oauth1/partner/authorize?link=`)).toBe(true)
    // A worker honours the link the primary wrote to the shared store.
    const open = await clickLink(gp.url, link.url)
    expect(open.status).toBe(303)
    expect(String(open.headers.location).startsWith(`${provider.browserUrl}/authorize?oauth_token=`)).toBe(true)

    expect(await post<{ ok: boolean }>('reload', {})).toMatchObject({ ok: true })
    const reloaded = await eventually(() => {
      const p = new Set(gp.output.filter((l) => l.includes('"msg":"config reloaded"')).map((l) => (JSON.parse(l) as { pid: number }).pid))
      return p.size === 2 && p
    }, 30_000, 'both workers to reload')
    expect(reloaded.size).toBe(2)
    expect((await get<{ lastReload: { trigger: string } }>('overview')).lastReload.trigger).toBe('console')
  })

  // The console reads the aggregate /metrics shows: a crashed worker's requests stay in its totals.
  it('keeps a crashed worker\'s requests in the totals once it is replaced', async () => {
    const s = await apiSession(consoleUrl)
    const overview = async (): Promise<{ totals: { requests: number } }> => {
      const r = await adminRequest(`${consoleUrl}api/overview`, { cookie: s.cookie })
      expect(r.status, r.text).toBe(200)
      return JSON.parse(r.text) as { totals: { requests: number } }
    }
    // The 20 proxied calls and the first test's gateway API requests (the authorize link).
    const before = (await overview()).totals.requests
    expect(before).toBeGreaterThanOrEqual(20)
    const victim = (JSON.parse(gp.output.find((l) => l.includes('"msg":"request"')) as string) as { pid: number }).pid
    sendSignal(victim, 'SIGKILL')
    const admin = consoleUrl.slice(0, -'/console/'.length)
    await eventually(async () => valueOf(await scrape(admin), 'mtls_gateway_worker_restarts_total') === 1, 30_000, 'the restart to be counted')
    await eventually(async () => (await adminRequest(`${admin}/readyz`, {})).status === 200, START_DEADLINE_MS, 'readiness after the restart')
    expect((await overview()).totals.requests).toBe(before)
  })

  it('throttles sign-in per source address in the primary, as a single process does', async () => {
    const origin = new URL(consoleUrl).origin
    const login = async (token: string, localAddress: string): Promise<number> => (await adminRequest(`${consoleUrl}api/login`, { method: 'POST', origin, body: { token }, localAddress })).status
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 21; i++) statuses.push(await login(`wrong-token-number-${i}`, address))
      expect(statuses).toEqual([...times(20, 401), 429])
      expect([await login(CONSOLE_TOKEN, address), await login(CONSOLE_TOKEN, '127.0.0.2')]).toEqual([429, 200])
    })
    // Counted in the primary, under the names a single process uses.
    expect((await adminRequest(`${consoleUrl}api/reload`, { method: 'POST', origin: 'http://evil.example', body: {} })).status).toBe(403)
    const m = await scrape(consoleUrl.slice(0, -'/console/'.length))
    const refusals = (reason: string): number => valueOf(m, 'mtls_gateway_console_refusals_total', { reason }) ?? -1
    expect(refusals('wrong_token')).toBeGreaterThanOrEqual(20)
    expect(refusals('throttled')).toBeGreaterThanOrEqual(2)
    expect(refusals('cross_origin_refused')).toBe(1)
  })
})
