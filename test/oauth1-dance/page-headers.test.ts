/**
 * Every response of the dance's browser-facing addresses carries the same hardening headers,
 * set in one place (pages.ts): the link page (GET, HEAD), its button's redirect to the provider,
 * the credentialed start's redirect to the link, the callback's success page, and every
 * failure page of either (unknown link or dance, a forged form, a denial, a wrong method).
 * `frame-ancestors 'none'` (with X-Frame-Options: DENY) keeps the link page, whose button
 * starts a dance, out of any other site's frame: in the real headless Chromium a page framing a
 * link is refused. No `form-action`: Chromium applies it to every redirect after the form's
 * POST, and a provider's authorization URL may redirect on to an origin no config names (a
 * login page); the whole dance through such a redirect completes in Chromium.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, ConsoleMessage } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { launchChromium } from '../support/chromium.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN, authorizeLink, finishInBrowser, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'
import { DANCE_PAGE_HEADERS, expectDancePage, expectFailurePage } from './dance-pages.js'

let pki: TestPki
let provider: DanceProvider
let dir: string
let gw: RunningGateway
let hopGw: RunningGateway
let hop: Server
let framer: Server
let browser: Browser

const listening = async <T extends Server>(server: T): Promise<T> => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
const portOf = (server: Server): number => (server.address() as AddressInfo).port
const closeServer = async (server: Server | undefined): Promise<void> => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
}

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-page-headers-'))
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }))
  // The provider's authorization URL on an origin of its own that redirects the browser on to the
  // approval page on another, as a provider sending the user to its login host does.
  hop = await listening(createHttpsServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')) }, (req, res) => {
    res.writeHead(302, { location: `${provider.browserUrl}/authorize${new URL(req.url ?? '/', 'https://x').search}`, 'content-length': 0 }).end()
  }))
  const hopDir = join(dir, 'hop')
  const hopYaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'hop.db') } }).replace(`authorizeUrl: ${provider.browserUrl}/authorize`, `authorizeUrl: https://127.0.0.1:${portOf(hop)}/authorize`)
  mkdirSync(hopDir)
  hopGw = await startTestGateway(hopDir, hopYaml)
  // Another site that frames whatever page ?src= names.
  framer = await listening(createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? ''
    const html = `<!doctype html><title>framer</title><iframe id="f" src="${src.replaceAll('&', '&amp;').replaceAll('"', '&quot;')}" width="600" height="400"></iframe>`
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }).end(html)
  }))
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await closeServer(framer)
  await closeServer(hop)
  await hopGw?.close()
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const expectRedirect = (r: { status: number; headers: Record<string, unknown> }, status: number, what: string): void => {
  expect([what, r.status]).toEqual([what, status])
  expect([what, r.headers]).toMatchObject([what, DANCE_PAGE_HEADERS])
}

describe('the dance pages\' headers', () => {
  it('every page and redirect of the link and the callback carries the same hardening headers', async () => {
    const started = await send(gw.url, '/gateway/oauth1/partner/authorize?user=hana&app=', { headers: ADMIN })
    expectRedirect(started, 302, 'the credentialed start\'s redirect to the link')
    const link = String(started.headers.location)
    expectDancePage(await send(gw.url, pathOf(link)), 200, 'the link page')
    const head = await send(gw.url, pathOf(link), { method: 'HEAD' })
    expect([head.status, head.headers['content-type'], head.headers]).toMatchObject([200, 'text/html; charset=utf-8', DANCE_PAGE_HEADERS])
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' }
    expectFailurePage(await send(gw.url, pathOf(link), form), 403, 'This form did not come from the authorization page.', 'a forged form')
    expectFailurePage(await send(gw.url, pathOf(link), { method: 'PUT' }), 405, 'This address is a one-time authorization link', 'the link\'s 405')
    expectFailurePage(await send(gw.url, '/gateway/oauth1/partner/authorize?link=nope'), 400, 'This authorization link is unknown, expired or already used.', 'an unknown link')

    const dance = await startInBrowser(link, { provider })
    expectRedirect(dance.click, 303, 'the button\'s redirect to the provider')
    const done = await finishInBrowser(dance, { provider })
    expectDancePage(done.done, 200, 'the callback\'s success page')
    expectFailurePage(await send(gw.url, pathOf(done.callbackUrl)), 400, 'This authorization is unknown, expired or already completed.', 'the callback replayed')
    const denied = await finishInBrowser(await startInBrowser(await authorizeLink(gw.url, 'user=ivan'), { provider }), { provider, decision: 'deny' })
    expectFailurePage(denied.done, 403, 'Access was denied at the provider.', 'a denial')
    expectFailurePage(await send(gw.url, '/gateway/oauth1/callback', { method: 'POST' }), 405, 'This address takes only the provider', 'the callback\'s 405')
    expectFailurePage(await send(gw.url, '/gateway/oauth1/callback'), 400, 'The provider did not name a request token.', 'a callback without a token')
  })

  it('src/ writes a dance page, a page error or a dance redirect only in src/dance/pages.ts (the one place its headers are set)', () => {
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    const writers = files.filter((f) => /new PageError\(|text\/html/.test(readFileSync(join('src', f), 'utf8')))
    expect(writers.sort()).toEqual(['console/static.ts', 'dance/pages.ts', 'proxy/nginx-refusal.ts', 'proxy/write-error.ts'])
    const dance = files.filter((f) => f.startsWith('dance/') && /\.writeHead\(|\.setHeader\(/.test(readFileSync(join('src', f), 'utf8')))
    expect(dance).toEqual(['dance/pages.ts'])
  })
})

describe('in the real headless Chromium', () => {
  it('another site framing a link page is refused by its frame-ancestors \'none\'', async () => {
    const link = await authorizeLink(gw.url, 'user=judy')
    const page = await browser.newPage()
    const said: string[] = []
    page.on('console', (m: ConsoleMessage) => said.push(m.text()))
    try {
      await page.goto(`http://localhost:${portOf(framer)}/?src=${encodeURIComponent(link)}`)
      const frame = await (await page.locator('#f').elementHandle())?.contentFrame()
      await expect.poll(() => said.some((t) => t.includes('frame-ancestors'))).toBe(true)
      expect(said.join('\n')).toContain(`violates the following Content Security Policy directive: "frame-ancestors 'none'"`)
      // Nothing of the gateway's page in the frame: no button to click through it.
      expect(frame?.url()).not.toBe(link)
      expect(await frame?.locator('#continue').count()).toBe(0)
    } finally {
      await page.close()
    }
    // The link itself is untouched: the user's own browser still gets its page.
    expectDancePage(await send(gw.url, pathOf(link)), 200, 'the framed link afterwards')
  })

  it('the whole dance completes when the provider\'s authorization URL redirects to another origin (why there is no form-action)', async () => {
    const link = await authorizeLink(hopGw.url, 'user=kim')
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const page = await ctx.newPage()
      await page.goto(link)
      expect(await page.locator('h1').textContent()).toContain('Partner Bank')
      await Promise.all([page.waitForURL(`${provider.browserUrl}/authorize?oauth_token=**`), page.click('#continue')])
      await Promise.all([page.waitForURL(`${hopGw.url}/gateway/oauth1/callback?**`), page.click('#approve')])
      expect(await page.locator('#result').getAttribute('data-result')).toBe('success')
    } finally {
      await ctx.close()
    }
    const call = await send(hopGw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'kim' } })
    expect(call.status, call.text).toBe(200)
  })
})
