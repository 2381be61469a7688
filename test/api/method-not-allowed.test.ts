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

const CALLERS = `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n    - clientId: bot\n      hs256Secret: "method-not-allowed-hs256-secret-32-bytes"\n      audience: https://gateway.test\n      endpoints: ["*"]`

/** Every .ts file under a directory. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

describe('405 Method Not Allowed', () => {
  it('is made only by methodNotAllowed(), which sets Allow', () => {
    const src = new URL('../../src/', import.meta.url).pathname
    const stray = sources(src).filter((f) => !f.endsWith('/errors.ts') && /method_not_allowed/.test(readFileSync(f, 'utf8')))
    expect(stray).toEqual([])
    const r = errorResponse(methodNotAllowed(['GET', 'HEAD'], 'admin endpoints answer GET only'), 'api')
    expect(r.status).toBe(405)
    expect(r.headers.allow).toBe('GET, HEAD')
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)))
    expect(JSON.parse(r.body)).toEqual({ errors: [{ msg: 'admin endpoints answer GET only', code: 405 }] })
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
          expect(r.text).toContain('use GET /gateway/oauth1/callback')
          expect(r.text).toContain('<code>405</code>')
          continue
        }
        expect(r.json()).toEqual({ errors: [{ msg: expect.stringContaining('use '), code: 405 }] })
      }
    })
  })
})
