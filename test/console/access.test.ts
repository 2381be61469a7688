/**
 * Who may use the console, over plain HTTP as a browser would send it: the login form's
 * token, the session cookie's attributes, CSRF and cross-origin refusals, logout ending
 * the session, the headers every response carries, and one audit line per action.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { eventually, startOpsGateway } from '../ops/helpers.js'
import { adminRequest, apiSession, CONSOLE_TOKEN, useConsoleRig, type ConsoleRig, type Reply } from './console-support.js'
import { inOneWindow, times } from '../api/throttle-support.js'

const use = useConsoleRig()

const NEXT_TOKEN_ENV = 'MTLS_GATEWAY_TEST_CONSOLE_NEXT_TOKEN'
const NEXT_TOKEN = 'console-rotated-token-8d2f6a41c0'

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; require-trusted-types-for 'script'; trusted-types 'none'"

function audits(rig: ConsoleRig): Record<string, unknown>[] {
  return rig.ops.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console')
}

describe('console access', () => {
  it('serves the page and its files with the strict CSP and correct content types', async () => {
    const page = await adminRequest(use.rig.consoleUrl)
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(CSP)
    expect(page.headers['x-frame-options']).toBe('DENY')
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(page.text).not.toMatch(/\sstyle=|<style/)
    for (const [name, type] of [['app.js', 'text/javascript'], ['app.css', 'text/css'], ['vendor/uPlot.esm.js', 'text/javascript'], ['vendor/uPlot.min.css', 'text/css']]) {
      const r = await adminRequest(`${use.rig.consoleUrl}${name}`)
      expect(r.status, name).toBe(200)
      expect(r.headers['content-type']).toBe(`${type}; charset=utf-8`)
      expect(r.headers['content-security-policy']).toBe(CSP)
    }
    expect((await adminRequest(`${use.rig.consoleUrl}../package.json`)).status).toBe(404)
    expect((await adminRequest(`${use.rig.consoleUrl}nope.js`)).status).toBe(404)
    expect((await adminRequest(use.rig.consoleUrl.slice(0, -1))).headers.location).toBe('/console/')
  })

  it('a wrong token is refused and audited; the API needs a session', async () => {
    const origin = new URL(use.rig.consoleUrl).origin
    const wrong = await adminRequest(`${use.rig.consoleUrl}api/login`, { method: 'POST', origin, body: { token: 'not-the-token-at-all' } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers['set-cookie']).toBeUndefined()
    expect(JSON.parse(wrong.text)).toEqual({ errors: [{ msg: 'wrong admin token', code: 401 }] })
    // Written by the gateway's one error writer, with the console's headers.
    expect(wrong.headers['content-length']).toBe(String(Buffer.byteLength(wrong.text)))
    expect(wrong.headers['content-security-policy']).toBe(CSP)
    expect(wrong.headers['x-content-type-options']).toBe('nosniff')
    expect(audits(use.rig).some((a) => a.action === 'login' && a.result === 'wrong_token')).toBe(true)
    expect((await adminRequest(`${use.rig.consoleUrl}api/overview`)).status).toBe(401)
    expect((await adminRequest(`${use.rig.consoleUrl}api/overview`, { cookie: 'mtls_gateway_console=a.9999999999999.dG9rZW4.forged' })).status).toBe(401)
  })

  it('the session cookie is HttpOnly and SameSite=Strict, scoped to /console/', async () => {
    const origin = new URL(use.rig.consoleUrl).origin
    const r = await adminRequest(`${use.rig.consoleUrl}api/login`, { method: 'POST', origin, body: { token: CONSOLE_TOKEN } })
    expect(r.status).toBe(200)
    const cookie = String(r.headers['set-cookie'])
    expect(cookie).toMatch(/^mtls_gateway_console=[^;]+; Path=\/console\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    // Plain HTTP admin listener: not Secure (a Secure cookie would never come back).
    expect(cookie).not.toContain('Secure')
  })

  it('refuses a POST without the CSRF token, with a wrong one, and from another origin', async () => {
    const s = await apiSession(use.rig.consoleUrl)
    const url = `${use.rig.consoleUrl}api/reload`
    const none = await adminRequest(url, { method: 'POST', cookie: s.cookie, origin: s.origin, body: {} })
    expect(none.status).toBe(403)
    expect(none.text).toContain('CSRF')
    const wrong = await adminRequest(url, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: `${s.csrf.slice(0, -2)}xx`, body: {} })
    expect(wrong.status).toBe(403)
    const cross = await adminRequest(url, { method: 'POST', cookie: s.cookie, origin: 'http://evil.example', csrf: s.csrf, body: {} })
    expect(cross.status).toBe(403)
    const noOrigin = await adminRequest(url, { method: 'POST', cookie: s.cookie, csrf: s.csrf, body: {} })
    expect(noOrigin.status).toBe(403)
    const good = await adminRequest(url, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: {} })
    expect(good.status, good.text).toBe(200)
    expect(JSON.parse(good.text)).toMatchObject({ ok: true })
    const a = audits(use.rig)
    expect(a.some((e) => e.action === 'reload' && e.result === 'csrf_refused')).toBe(true)
    expect(a.some((e) => e.result === 'cross_origin_refused')).toBe(true)
    expect(a.some((e) => e.action === 'reload' && e.result === 'ok' && e.who === 'token')).toBe(true)
  })

  it('logout ends the session: the same cookie is refused afterwards', async () => {
    const s = await apiSession(use.rig.consoleUrl)
    expect((await adminRequest(`${use.rig.consoleUrl}api/overview`, { cookie: s.cookie })).status).toBe(200)
    const out = await adminRequest(`${use.rig.consoleUrl}api/logout`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: {} })
    expect(out.status).toBe(200)
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0')
    expect((await adminRequest(`${use.rig.consoleUrl}api/overview`, { cookie: s.cookie })).status).toBe(401)
  })

  it('the admin routes still answer as before', async () => {
    expect((await adminRequest(`${use.rig.ops.adminUrl}/healthz`)).status).toBe(200)
    expect((await adminRequest(`${use.rig.ops.adminUrl}/metrics`)).text).toContain('mtls_gateway_requests_total')
  })

  it('a method a route does not take is a 405 that lists the ones it does (Allow)', async () => {
    const session = await apiSession(use.rig.consoleUrl)
    for (const [url, method, allow] of [
      [`${use.rig.ops.adminUrl}/metrics`, 'POST', 'GET, HEAD'],
      [use.rig.consoleUrl, 'PUT', 'GET, HEAD'],
      [`${use.rig.consoleUrl}api/logout`, 'GET', 'POST'],
    ] as const) {
      const r = await adminRequest(url, { method, ...session })
      expect(r.status, `${method} ${url}`).toBe(405)
      expect(r.headers.allow, `${method} ${url}`).toBe(allow)
      expect(JSON.parse(r.text)).toEqual({ errors: [{ msg: expect.any(String), code: 405 }] })
    }
  })

  it('an unknown admin path is a 404 that points at the console too', async () => {
    const missing = await adminRequest(`${new URL(use.rig.consoleUrl).origin}/consol`)
    expect(missing.status).toBe(404)
    expect(missing.headers['content-length']).toBe(String(Buffer.byteLength(missing.text)))
    expect(JSON.parse(missing.text)).toEqual({ errors: [{ msg: 'no admin route /consol: use /metrics, /healthz, /readyz or /console/', code: 404 }] })
  })

  it('without admin.token the console is off and says how to turn it on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-off-'))
    const yaml = readFileSync(use.rig.ops.gw.ref.current.config.file, 'utf8').replace(/\n {2}token: .*\n/, '\n')
    const off = await startOpsGateway(dir, yaml)
    try {
      const url = `${off.adminUrl}/console/`
      expect((await adminRequest(url)).status).toBe(200)
      const session = await adminRequest(`${url}api/session`)
      expect(session.status).toBe(401)
      expect(JSON.parse(session.text).errors[0].msg).toMatch(/^the console is off: set admin\.token/)
      const login = await adminRequest(`${url}api/login`, { method: 'POST', origin: off.adminUrl, body: { token: CONSOLE_TOKEN } })
      expect(login.status).toBe(401)
      expect(login.headers['set-cookie']).toBeUndefined()
      // While the console is off, the admin listener's 404 lists only the probes and metrics.
      const missing = await adminRequest(`${off.adminUrl}/nope`)
      expect(missing.status).toBe(404)
      expect(JSON.parse(missing.text)).toEqual({ errors: [{ msg: 'no admin route /nope: use /metrics, /healthz or /readyz', code: 404 }] })
    } finally {
      await off.gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a reload that sets admin.token on a gateway started without it turns the console on, as a start with it would', async () => {
    // Started without a token, the gateway mounts a stand-in that loads the console when a reload turns it on.
    const dir = mkdtempSync(join(tmpdir(), 'console-on-'))
    const yaml = readFileSync(use.rig.ops.gw.ref.current.config.file, 'utf8')
    const off = await startOpsGateway(dir, yaml.replace(/\n {2}token: .*\n/, '\n'), { watch: false })
    try {
      const url = `${off.adminUrl}/console/`
      writeFileSync(off.gw.ref.current.config.file, yaml)
      expect(await off.gw.ops?.reload('test')).toMatchObject({ ok: true })
      const login = await adminRequest(`${url}api/login`, { method: 'POST', origin: off.adminUrl, body: { token: CONSOLE_TOKEN } })
      expect(login.status).toBe(200)
      expect(login.headers['set-cookie']).toBeDefined()
      expect(JSON.parse((await adminRequest(`${off.adminUrl}/nope`)).text)).toEqual({ errors: [{ msg: 'no admin route /nope: use /metrics, /healthz, /readyz or /console/', code: 404 }] })
    } finally {
      await off.gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a reload that changes only admin.token is accepted and acts as a fresh start: sessions end, the new token signs in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-token-'))
    const yaml = readFileSync(use.rig.ops.gw.ref.current.config.file, 'utf8')
    const rotated = yaml.replace(/\n {2}token: .*\n/, `\n  token: "\${env:${NEXT_TOKEN_ENV}}"\n`)
    expect(rotated).not.toBe(yaml)
    process.env[NEXT_TOKEN_ENV] = NEXT_TOKEN
    const running = await startOpsGateway(dir, yaml, { watch: false })
    let fresh: Awaited<ReturnType<typeof startOpsGateway>> | undefined
    try {
      const url = `${running.adminUrl}/console/`
      const before = await apiSession(url)
      writeFileSync(running.gw.ref.current.config.file, rotated)
      const reload = await adminRequest(`${url}api/reload`, { method: 'POST', cookie: before.cookie, origin: before.origin, csrf: before.csrf, body: {} })
      expect(reload.status).toBe(200)
      expect(JSON.parse(reload.text)).toMatchObject({ ok: true })
      expect(running.gw.ref.current.config.admin.token).toBe(NEXT_TOKEN)
      // What a signed-in operator and the login form see now, and on a gateway started with the new file.
      const observe = async (consoleUrl: string, cookie?: string): Promise<number[]> => {
        const origin = new URL(consoleUrl).origin
        const login = (token: string): Promise<Reply> => adminRequest(`${consoleUrl}api/login`, { method: 'POST', origin, body: { token } })
        const statuses = [(await login(CONSOLE_TOKEN)).status, (await login(NEXT_TOKEN)).status]
        if (cookie !== undefined) statuses.push((await adminRequest(`${consoleUrl}api/overview`, { cookie })).status)
        return statuses
      }
      expect(await observe(url, before.cookie)).toEqual([401, 200, 401])
      const freshDir = mkdtempSync(join(tmpdir(), 'console-token-fresh-'))
      fresh = await startOpsGateway(freshDir, rotated, { watch: false })
      expect(await observe(`${fresh.adminUrl}/console/`, before.cookie)).toEqual([401, 200, 401])
      rmSync(freshDir, { recursive: true, force: true })
    } finally {
      await fresh?.gw.close()
      await running.gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a token in a mounted Secret (as the Helm chart mounts it) rotates with the Secret: a ..data swap as the kubelet makes it, no config edit, no restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-token-secret-'))
    const secret = join(dir, 'console-token')
    const version = (name: string, token: string): void => {
      mkdirSync(join(secret, name), { recursive: true })
      writeFileSync(join(secret, name, 'token'), token)
    }
    version('..2026_01_01_00_00_00.000000001', CONSOLE_TOKEN)
    symlinkSync('..2026_01_01_00_00_00.000000001', join(secret, '..data'))
    symlinkSync('..data/token', join(secret, 'token'))
    const yaml = readFileSync(use.rig.ops.gw.ref.current.config.file, 'utf8').replace(/\n {2}token: .*\n/, `\n  token: "\${file:${join(secret, 'token')}}"\n`)
    expect(yaml).toContain('${file:')
    const g = await startOpsGateway(dir, yaml)
    try {
      const url = `${g.adminUrl}/console/`
      const origin = new URL(url).origin
      const login = async (token: string): Promise<number> => (await adminRequest(`${url}api/login`, { method: 'POST', origin, body: { token } })).status
      expect([await login(CONSOLE_TOKEN), await login(NEXT_TOKEN)]).toEqual([200, 401])
      const before = g.gw.ref.current
      // What the kubelet does when the Secret changes: a new timestamped dir, ..data renamed over.
      version('..2026_01_02_00_00_00.000000002', NEXT_TOKEN)
      symlinkSync('..2026_01_02_00_00_00.000000002', join(secret, '..data_tmp'))
      renameSync(join(secret, '..data_tmp'), join(secret, '..data'))
      rmSync(join(secret, '..2026_01_01_00_00_00.000000001'), { recursive: true })
      await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload the Secret update starts')
      expect([await login(CONSOLE_TOKEN), await login(NEXT_TOKEN)]).toEqual([401, 200])
    } finally {
      await g.gw.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  // Source addresses are loopback aliases of their own (127.31.x.y), a fresh one per window.
  it('after 20 wrong tokens in a minute from one address even the right one waits there (429, Retry-After); another address still signs in', async () => {
    const origin = new URL(use.rig.consoleUrl).origin
    const login = (token: string, localAddress: string): Promise<Reply> => adminRequest(`${use.rig.consoleUrl}api/login`, { method: 'POST', origin, body: { token }, localAddress })
    await inOneWindow(async (address) => {
      // Right tokens do not count: 20 wrong ones are still compared after them.
      const statuses: number[] = []
      for (let i = 0; i < 3; i++) statuses.push((await login(CONSOLE_TOKEN, address)).status)
      for (let i = 0; i < 25; i++) statuses.push((await login(`wrong-token-number-${i}`, address)).status)
      expect(statuses).toEqual([...times(3, 200), ...times(20, 401), ...times(5, 429)])
      const right = await login(CONSOLE_TOKEN, address)
      expect(right.status).toBe(429)
      // The message names the wait Retry-After gives (the count slides: it may be a few seconds, not a minute).
      expect(JSON.parse(right.text)).toEqual({ errors: [{ msg: `too many wrong admin tokens from this address: it may try again in ${String(right.headers['retry-after'])} s`, code: 429 }] })
      expect(Number(right.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expect(Number(right.headers['retry-after'])).toBeLessThanOrEqual(60)
      expect(audits(use.rig).some((a) => a.action === 'login' && a.result === 'throttled' && a.from === address)).toBe(true)
    })
    // The flood from that address does not lock out an operator at another address.
    for (const address of ['127.0.0.2', '127.0.0.1']) {
      const other = await login(CONSOLE_TOKEN, address)
      expect(other.status, `${address}: ${other.text}`).toBe(200)
      expect(other.headers['set-cookie']).toBeDefined()
    }
  })
})
