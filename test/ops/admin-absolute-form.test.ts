/**
 * RFC 9112 §3.2.2: a server MUST accept the absolute-form for requests to itself. The admin
 * listener answered `GET http://127.0.0.1:<port>/metrics` with 404 ("no admin route http://…").
 * Now every admin route, the console's included, is served alike in either form when the target
 * names this listener, and a target naming another authority is a 421 in the error envelope (the
 * admin listener is never a proxy). The Host and console Origin/CSRF checks stay as they are.
 * Real gateway processes (dist), raw sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRoundTrip, type RawResponse } from '../support/raw-client.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'

const TOKEN = 'absolute-form-console-token-4d9c'

let pki: TestPki
let dir: string
const running: GatewayProcess[] = []

/** Spawns a gateway whose admin listener binds `adminHost` on a free port, console on; resolves with that port. */
async function start(adminHost: string): Promise<number> {
  const file = join(dir, `${running.length}.yaml`)
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: "${adminHost}", port: 0, token: ${TOKEN}, allowedHosts: [gw-admin.example.com] }\nstore: { kind: sqlite, file: ${join(dir, `${running.length}.db`)} }\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`)
  const gp = await spawnGateway(file)
  running.push(gp)
  return Number(new URL(await adminUrlOf(gp)).port)
}

beforeAll(async () => {
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'admin-absolute-'))
})
afterAll(async () => {
  for (const gp of running) await gp.stop()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** One request on its own connection: `target` as the request-target, Host 127.0.0.1:<port> unless `headers` gives another. */
function ask(port: number, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
  const all: Record<string, string> = { host: `127.0.0.1:${port}`, ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), connection: 'close' }
  return rawRoundTrip(port, `${method} ${target} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`)
}

const json = (r: RawResponse): unknown => JSON.parse(r.body.toString('utf8'))

describe('absolute-form on the admin listener', () => {
  let port: number
  let origin: string
  beforeAll(async () => {
    port = await start('127.0.0.1')
    origin = `http://127.0.0.1:${port}`
  })

  it.each(['/metrics', '/healthz', '/readyz', '/console/', '/console/app.js', '/console', '/console/api/session', '/nowhere'])('GET %s: the same answer as origin-form', async (path) => {
    const [originForm, absolute, upper] = await Promise.all([ask(port, 'GET', path), ask(port, 'GET', `${origin}${path}`), ask(port, 'GET', `HTTP://127.0.0.1:${port}${path}`)])
    for (const r of [absolute, upper]) {
      expect(r.status, r.body.toString()).toBe(originForm.status)
      expect(r.headers['content-type']).toBe(originForm.headers['content-type'])
      if (path !== '/metrics') expect(r.body.toString()).toBe(originForm.body.toString())
    }
    expect(originForm.status).not.toBe(421)
  })

  it('a query and a target with no path are served as origin-form', async () => {
    expect((await ask(port, 'GET', `${origin}/healthz?probe=1`)).status).toBe(200)
    expect(json(await ask(port, 'GET', origin))).toEqual(json(await ask(port, 'GET', '/')))
  })

  it('the console signs in and acts through absolute-form, its Origin and CSRF checks unchanged', async () => {
    const login = await ask(port, 'POST', `${origin}/console/api/login`, { origin }, JSON.stringify({ token: TOKEN }))
    expect(login.status, login.body.toString()).toBe(200)
    const cookie = (login.headers['set-cookie'] ?? '').split(';')[0] as string
    const { csrf } = json(login) as { csrf: string }
    const draft = JSON.stringify({ yaml: 'listen: {}\n' })
    expect((await ask(port, 'POST', `${origin}/console/api/draft`, { origin, cookie, 'x-csrf-token': csrf }, draft)).status).toBe(200)
    // Refused as in origin-form: no CSRF token, another Origin, a Host the listener does not answer for.
    expect((await ask(port, 'POST', `${origin}/console/api/draft`, { origin, cookie }, draft)).status).toBe(403)
    expect((await ask(port, 'POST', `${origin}/console/api/draft`, { origin: 'http://attacker.test', cookie, 'x-csrf-token': csrf }, draft)).status).toBe(403)
    const rebound = await ask(port, 'POST', `${origin}/console/api/login`, { host: 'attacker.test', origin: 'http://attacker.test' }, JSON.stringify({ token: TOKEN }))
    expect(rebound.status).toBe(421)
    expect(json(rebound)).toMatchObject({ errors: [{ code: 421, msg: expect.stringContaining('the Host header names "attacker.test"') }] })
  })

  // Another port: one the listener is not on (its own plus one, below 65536).
  const other = (p: number): number => (p === 65535 ? p - 1 : p + 1)
  it.each([
    ['another host', () => 'http://example.com/metrics', () => 'http://example.com:80'],
    ['another port', (p: number) => `http://127.0.0.1:${other(p)}/metrics`, (p: number) => `http://127.0.0.1:${other(p)}`],
    ['another scheme', (p: number) => `https://127.0.0.1:${p}/metrics`, (p: number) => `https://127.0.0.1:${p}`],
    ['no port (80)', () => 'http://127.0.0.1/console/', () => 'http://127.0.0.1:80'],
    ['another address at its port', (p: number) => `http://10.1.2.3:${p}/metrics`, (p: number) => `http://10.1.2.3:${p}`],
    ['an allowed name at another port', (p: number) => `http://gw-admin.example.com:${other(p)}/metrics`, (p: number) => `http://gw-admin.example.com:${other(p)}`],
  ])('naming %s: 421 in the envelope, naming both authorities', async (_what, target, named) => {
    const r = await ask(port, 'GET', target(port))
    expect(r.status, r.body.toString()).toBe(421)
    expect(r.headers['content-length']).toBe(String(r.body.length))
    expect(json(r)).toEqual({ errors: [{ code: 421, msg: `the request target names ${named(port)}, which is not this admin listener (http://127.0.0.1:${port}): the admin listener is not a proxy; send the path alone (GET /metrics) or name this listener (RFC 9110, section 7.4)` }] })
  })

  it('localhost and an admin.allowedHosts name at its port are served, as a Host header naming them is', async () => {
    for (const target of [`http://localhost:${port}/metrics`, `http://LocalHost:${port}/healthz`, `http://GW-Admin.example.com:${port}/metrics`]) {
      const r = await ask(port, 'GET', target)
      expect(r.status, `${target}: ${r.body.toString()}`).toBe(200)
    }
  })

  it('a malformed absolute-form target is a 400', async () => {
    const r = await ask(port, 'GET', `http://user@127.0.0.1:${port}/metrics`)
    expect(r.status).toBe(400)
    expect(json(r)).toMatchObject({ errors: [{ code: 400, msg: expect.stringContaining('userinfo') }] })
  })
})

describe('absolute-form on an admin listener bound to every address', () => {
  it('is served when it names the address and port the connection reached', async () => {
    const port = await start('::')
    const r = await ask(port, 'GET', `http://127.0.0.1:${port}/healthz`)
    expect(r.status, r.body.toString()).toBe(200)
    expect(json(r)).toEqual({ status: 'ok' })
  })
})
