/**
 * RFC 9110 §15.5.6: a 405 MUST carry `Allow`, the methods the resource takes. Every 405 is
 * made by methodNotAllowed(), which takes that list as a required argument; the source scan
 * below keeps it the only way, and the wire checks hold each route to its list: the methods
 * named never get 405, and a method not named does, with the list, in the standard envelope;
 * the OAuth callback, a browser's page, answers it with the dance's HTML failure page instead.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorResponse, methodNotAllowed } from '../../src/errors.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN_TOKEN, gatewayYaml, startDanceProvider, type DanceProvider } from '../oauth1-dance/dance-support.js'
import { adminRequest, startProviderlessConsole, type ProviderlessConsole } from '../console/console-support.js'
import { rawRoundTrip } from '../support/raw-client.js'

const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "method-not-allowed-hs256-secret-32-bytes"\n      audience: https://gateway.test\n      endpoints: ["*"]`

/** Every .ts file under a directory. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

/** What a 405's message ends with for the methods its Allow header lists: `: use GET or HEAD`. */
function useOf(allow: string): string {
  const methods = allow.split(', ')
  return `: use ${methods.length === 1 ? allow : `${methods.slice(0, -1).join(', ')} or ${methods.at(-1) ?? ''}`}`
}

describe('405 Method Not Allowed', () => {
  it('is made only by methodNotAllowed(), which sets Allow and names the same methods in its message', () => {
    const src = new URL('../../src/', import.meta.url).pathname
    const stray = sources(src).filter((f) => !f.endsWith('/errors.ts') && /method_not_allowed/.test(readFileSync(f, 'utf8')))
    expect(stray).toEqual([])
    for (const [allowed, msg] of [[['GET', 'HEAD'], 'PUT /metrics is not served: use GET or HEAD'], [['POST'], 'GET /x is not served: use POST'], [['GET', 'HEAD', 'POST'], 'GET /x is not served: use GET, HEAD or POST']] as const) {
      const r = errorResponse(methodNotAllowed([...allowed] as [string, ...string[]], msg.slice(0, msg.indexOf(':'))), 'api')
      expect(r.status).toBe(405)
      expect(r.headers.allow).toBe(allowed.join(', '))
      expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)))
      expect(JSON.parse(r.body)).toEqual({ errors: [{ msg, code: 405 }] })
    }
  })

  it('no call names in its own words a method a route takes (the message names them from the Allow list)', () => {
    const src = new URL('../../src/', import.meta.url).pathname
    // The text a call gives, up to the end of its line: the admin listener's said "GET only" beside Allow: GET, HEAD.
    const calls = sources(src).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/methodNotAllowed\(([^\n]*)/g)].map((m) => `${f}: ${m[1] ?? ''}`))
    expect(calls.length).toBeGreaterThan(8)
    expect(calls.filter((c) => /['`][^'`]*\b(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\b/.test(c.slice(c.indexOf(']') + 1)))).toEqual([])
  })

  describe('on the gateway API and OAuth routes', () => {
    let pki: TestPki
    let provider: DanceProvider
    let dir: string
    let gw: RunningGateway
    beforeAll(async () => {
      pki = await createTestPki()
      provider = await startDanceProvider(pki)
      dir = mkdtempSync(join(tmpdir(), 'mtls-405-'))
      gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'store.db') }, callers: CALLERS }))
    })
    afterAll(async () => {
      await gw?.close()
      await provider?.close()
      pki?.cleanup()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const ROUTES: readonly { path: string; allow: string; page?: true }[] = [
      { path: '/gateway/token', allow: 'POST' },
      { path: '/gateway/jwks.json', allow: 'GET, HEAD' },
      { path: '/gateway/oauth1/partner/test', allow: 'POST' },
      { path: '/gateway/oauth1/partner/tokens/somebody', allow: 'DELETE' },
      { path: '/gateway/oauth1/partner/authorize?user=u1', allow: 'GET, POST' },
      { path: '/gateway/oauth1/callback', allow: 'GET', page: true },
    ]
    const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

    it.each(ROUTES)('$path: 405 with Allow: $allow for every other method, never for those', async ({ path, allow, page }) => {
      const allowed = allow.split(', ')
      for (const method of METHODS) {
        const r = await send(gw.url, path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        if (allowed.includes(method)) {
          expect(r.status, `${method} ${path}`).not.toBe(405)
          continue
        }
        expect(r.status, `${method} ${path}: ${r.text}`).toBe(405)
        expect(r.headers.allow, `${method} ${path}`).toBe(allow)
        if (method === 'HEAD') continue
        expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.text)))
        if (page) {
          // The callback's failure page (callback.ts), as for its other refusals: the message and the code on it.
          expect(r.headers['content-type'], `${method} ${path}`).toMatch(/^text\/html/)
          expect(r.text).toContain('data-result="failure"')
          expect(r.text).toContain(`; ${method} /gateway/oauth1/callback is not served${useOf(allow)}`)
          expect(r.text).toContain('<code>405</code>')
          continue
        }
        expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(new RegExp(`^${method} \\S+ is not served${useOf(allow)}$`)), code: 405 }] })
      }
    })
  })
})

describe('405 on the admin listener and the console', () => {
  let c: ProviderlessConsole
  beforeAll(async () => {
    c = await startProviderlessConsole('admin-405-')
  })
  afterAll(async () => {
    await c?.close()
  })

  const ROUTES: readonly { path: string; allow: string }[] = [
    { path: '/metrics', allow: 'GET, HEAD' },
    { path: '/healthz', allow: 'GET, HEAD' },
    { path: '/readyz', allow: 'GET, HEAD' },
    { path: '/nowhere', allow: 'GET, HEAD' },
    { path: '/console/', allow: 'GET, HEAD' },
    { path: '/console/app.js', allow: 'GET, HEAD' },
    { path: '/console/api/draft', allow: 'POST' },
    { path: '/console/api/logout', allow: 'POST' },
  ]
  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

  it.each(ROUTES)('$path: the message names the methods Allow lists ($allow)', async ({ path, allow }) => {
    for (const method of METHODS.filter((m) => !allow.split(', ').includes(m))) {
      // A signed-in operator's request: the console's API refuses a method only past its sign-in check.
      const r = await adminRequest(`${c.ops.adminUrl}${path}`, { method, cookie: c.session.cookie, origin: c.session.origin, csrf: c.session.csrf })
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(405)
      expect(r.headers.allow, `${method} ${path}`).toBe(allow)
      if (method === 'HEAD') continue
      expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.text)))
      expect((JSON.parse(r.text) as { errors: { msg: string }[] }).errors[0]?.msg, `${method} ${path}`).toMatch(new RegExp(`${useOf(allow)}$`))
    }
  })

  it('a CONNECT: 405 whose message names the methods Allow lists', async () => {
    const r = await rawRoundTrip(Number(new URL(c.ops.adminUrl).port), 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n')
    expect(r.status).toBe(405)
    expect(r.headers.allow).toBe('GET, HEAD')
    expect(JSON.parse(r.body.toString())).toEqual({ errors: [{ msg: 'CONNECT example.test:443 is not served here: use GET or HEAD', code: 405 }] })
  })
})
