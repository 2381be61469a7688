/**
 * Route mode keeps each endpoint's cookies to itself, checked with a real cookie jar
 * (headless Chromium): backends behind /proxy/a/, /proxy/b/ and /proxy/c@<tenant>/ set
 * cookies with Path=/, Domain, their base path, a deeper path and no Path at all, and no
 * cookie of one ever reaches another's backend. Forward-proxy and CONNECT responses keep the
 * backend's Set-Cookie byte for byte. A seeded property sends generated Set-Cookie values
 * through route mode and parses what the caller gets with undici's cookie parser. A Path under
 * the base path spelled in an equivalent percent-encoding (`/%7Eteam/app` under `/~team`) maps
 * as Location does, and Chromium then sends it back only below the mapped path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { Browser, BrowserContext } from 'playwright-core'
import { getSetCookies, Headers } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { launchChromium } from '../support/chromium.js'
import { send, startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { TunnelAgent } from '../support/tunnel.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let browser: Browser
let context: BrowserContext
let ca: Buffer

/** The cookies a backend sets at `<base>/set`, named after the base (`a-base` → a, `t/acme` → acme). */
function cookiesFor(base: string): string[] {
  const tag = base === '/a-base' ? 'a' : base === '/b-base' ? 'b' : base.replace('/t/', '')
  return [
    `${tag}_any=1; Path=/; Domain=api.partner.test`,
    `${tag}_root=1; path=/`,
    `${tag}_base=1; Path=${base}; HttpOnly`,
    `${tag}_deep=1; Path=${base}/deep`,
    `${tag}_default=1`,
  ]
}

/** `<base>/set` sets the base's cookies (or those in x-set-cookies, JSON); anything else echoes the path and the Cookie header. */
function backend(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0] as string
  const given = req.headers['x-set-cookies']
  if (typeof given === 'string') res.setHeader('set-cookie', JSON.parse(Buffer.from(given, 'base64url').toString('latin1')) as string[])
  else if (path.endsWith('/set')) res.setHeader('set-cookie', cookiesFor(path.slice(0, -'/set'.length)))
  const body = JSON.stringify({ path, cookie: req.headers.cookie ?? null })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: backend })
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  const ep = (name: string, path: string): string =>
    `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}${path}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nstore: { kind: sqlite, file: ${join(pki.dir, 'state.db')} }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${ep('a', '/a-base')}${ep('b', '/b-base')}${ep('c', '/t/{tenant}')}${ep('d', '/~team')}${ep('e', '/%7Eteam')}`)
  browser = await launchChromium()
  context = await browser.newContext()
})

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

/** What the backend behind `route` received as its Cookie header, fetched by the browser. */
async function cookieSeenBy(route: string): Promise<string[]> {
  const page = await context.newPage()
  try {
    const res = await page.goto(`${gw.url}${route}`)
    expect(res?.status()).toBe(200)
    const seen = JSON.parse((await res?.text()) ?? '{}') as { cookie: string | null }
    return (seen.cookie ?? '').split(';').map((c) => c.trim().split('=')[0] as string).filter((n) => n !== '').sort()
  } finally {
    await page.close()
  }
}

describe('route mode: a cookie jar keeps each endpoint\'s cookies apart (Chromium)', () => {
  it('no cookie of one endpoint or tenant reaches another\'s backend; each reaches its own under the mapped paths', async () => {
    for (const route of ['/proxy/a/set', '/proxy/b/set', '/proxy/c@acme/set', '/proxy/c@globex/set']) await cookieSeenBy(route)
    const all = ['any', 'base', 'default', 'root']
    const of = (tag: string, names = all): string[] => names.map((n) => `${tag}_${n}`)
    expect(await cookieSeenBy('/proxy/b/echo')).toEqual(of('b'))
    expect(await cookieSeenBy('/proxy/a/echo')).toEqual(of('a'))
    expect(await cookieSeenBy('/proxy/a/deep/echo')).toEqual(of('a', ['any', 'base', 'deep', 'default', 'root']))
    expect(await cookieSeenBy('/proxy/c@acme/echo')).toEqual(of('acme'))
    expect(await cookieSeenBy('/proxy/c@globex/deep/echo')).toEqual(of('globex', ['any', 'base', 'deep', 'default', 'root']))
    // The jar's own record: every cookie host-only on the gateway, under its endpoint's prefix.
    const stored = await context.cookies()
    expect(stored).toHaveLength(20)
    for (const c of stored) {
      const owner = c.name.split('_')[0] as string
      const prefix = owner === 'a' || owner === 'b' ? `/proxy/${owner}/` : `/proxy/c@${owner}/`
      expect(c.path.startsWith(prefix), `${c.name} at ${c.path}`).toBe(true)
      expect(c.domain).toBe('127.0.0.1')
    }
  })
})

/** The backend's Set-Cookie values, as the x-set-cookies header carries them. */
const setCookiesHeader = (values: string[]): Record<string, string> => ({ 'x-set-cookies': Buffer.from(JSON.stringify(values), 'latin1').toString('base64url') })

describe('route mode: a Path under the base path spelled in an equivalent percent-encoding (RFC 3986 §6.2.2) maps like Location', () => {
  const sent = ['s1=1; Path=/%7Eteam/app', 's2=1; Path=/%7eteam/app/deep', 's3=1; Path=/~team/app', 's4=1; Path=/%7Eteam', 's5=1; Path=/%7Eteam%2Fapp', 's6=1; Path=/%7Eteamx/app', 's7=1; Path=/%7Eteam/%2e%2e/b-base/x', 's8=1; Path=/%7Eteam/%61pp']
  it('each spelling of the endpoint\'s base path maps the rest as sent; another segment, %2F and dot-segments stay at the endpoint root', async () => {
    for (const endpoint of ['d', 'e']) {
      const r = await send(gw.url, `/proxy/${endpoint}/x`, { headers: setCookiesHeader(sent) })
      expect(r.status, r.text).toBe(200)
      const root = `/proxy/${endpoint}/`
      expect(r.headers['set-cookie']).toEqual([`s1=1; Path=${root}app`, `s2=1; Path=${root}app/deep`, `s3=1; Path=${root}app`, `s4=1; Path=${root}`, `s5=1; Path=${root}`, `s6=1; Path=${root}`, `s7=1; Path=${root}`, `s8=1; Path=${root}%61pp`])
    }
  })

  it('Chromium sends the mapped cookie to the backend below the mapped path only', async () => {
    const jar = await browser.newContext({ extraHTTPHeaders: setCookiesHeader(['app=1; Path=/%7Eteam/app']) })
    try {
      const seen = async (route: string): Promise<string | null> => {
        const page = await jar.newPage()
        try {
          const res = await page.goto(`${gw.url}${route}`)
          expect(res?.status()).toBe(200)
          return (JSON.parse((await res?.text()) ?? '{}') as { cookie: string | null }).cookie
        } finally {
          await page.close()
        }
      }
      expect(await seen('/proxy/d/set-app')).toBeNull()
      expect(await seen('/proxy/d/app/echo')).toBe('app=1')
      expect(await seen('/proxy/d/other/echo')).toBeNull()
      expect(await seen('/proxy/e/app/echo')).toBeNull()
      // Each response set it again: the last one under endpoint e's own mapped path.
      expect((await jar.cookies()).map((c) => c.path).sort()).toEqual(['/proxy/d/app', '/proxy/e/app'])
    } finally {
      await jar.close()
    }
  })
})

describe('forward proxy and CONNECT keep the backend\'s Set-Cookie as sent', () => {
  it('forward proxy', async () => {
    const r = await send(gw.url, `http://api.partner.test:${upstream.port}/a-base/set`)
    expect(r.status, r.text).toBe(200)
    expect(r.headers['set-cookie']).toEqual(cookiesFor('/a-base'))
  })

  it('CONNECT-intercepted', async () => {
    const agent = new TunnelAgent({ gatewayPort: Number(new URL(gw.url).port), authority: `api.partner.test:${upstream.port}`, ca })
    try {
      const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path: '/a-base/set' }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.headers))
        }).on('error', reject).end()
      })
      expect(headers['set-cookie']).toEqual(cookiesFor('/a-base'))
    } finally {
      agent.destroy()
    }
  })
})

describe('property: route-mode Set-Cookie values the caller gets (seeded, 300 runs)', () => {
  it('each is a valid header whose one Path is under /proxy/<endpoint>[@tenant]/ and has no Domain', async () => {
    const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c))
    const attr = fc.oneof(
      fc.tuple(fc.constantFrom('Path', 'path', 'PATH'), fc.constantFrom('', '/', '/a-base', '/a-base/x', '/b-base', '/t/acme/y', 'rel', '/a-base/../b-base', '/%61-base/x', '/%7Eteam/x', '/%7eteam%2Fx', '/%7Eteam/%2e%2e/b-base')).map(([n, v]) => `${n}=${v}`),
      fc.constantFrom('Domain=api.partner.test', 'domain=127.0.0.1', 'Secure', 'HttpOnly', 'SameSite=Lax', 'Max-Age=60', 'Path'),
      fc.string({ unit: headerChar, maxLength: 10 }),
    )
    const cookie = fc.tuple(fc.stringMatching(/^[A-Za-z0-9_]{0,6}$/), fc.string({ unit: headerChar, maxLength: 8 }), fc.array(attr, { maxLength: 5 }))
      .map(([n, v, attrs]) => [`${n}=${v}`, ...attrs].join('; '))
    const route = fc.constantFrom(['/proxy/a', '/x/y'], ['/proxy/b', '/'], ['/proxy/c@acme', '/deep/p'], ['/proxy/c@Globex', '/q'], ['/proxy/d', '/x'], ['/proxy/e', '/y/z'])
    // Cookies relayed and read back over all runs: a gateway that dropped every one would pass the checks per cookie.
    let relayed = 0
    let parsed = 0
    await fc.assert(
      fc.asyncProperty(fc.array(cookie, { minLength: 1, maxLength: 4 }), route, async (cookies, [prefix, rest]) => {
        // Values a Node server cannot send (a leading or trailing blank is trimmed by every parser) are not the subject here.
        const sent = cookies.map((c) => c.trim()).filter((c) => c !== '')
        const r = await send(gw.url, `${prefix}${rest}`, { headers: { 'x-set-cookies': Buffer.from(JSON.stringify(sent), 'latin1').toString('base64url') } })
        expect(r.status, r.text).toBe(200)
        const got = r.headers['set-cookie'] ?? []
        expect(got.length).toBeLessThanOrEqual(sent.length)
        relayed += got.length
        for (const value of got) {
          const h = new Headers()
          h.append('set-cookie', value)
          for (const c of getSetCookies(h)) {
            parsed++
            expect(c.path?.startsWith(`${prefix}/`), `${value}`).toBe(true)
            expect(c.domain).toBeUndefined()
          }
          expect(value.split(';').slice(1).filter((a) => /^\s*path\s*(=|$)/i.test(a))).toHaveLength(1)
        }
      }),
      { seed: 0xc0c0a, numRuns: 300 },
    )
    expect(relayed, 'Set-Cookie fields relayed over the runs').toBeGreaterThan(0)
    expect(parsed, 'relayed cookies a cookie parser reads').toBeGreaterThan(0)
  }, 300_000)
})
