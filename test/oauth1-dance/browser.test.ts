/**
 * A real browser: headless Debian Chromium (driven by playwright-core) opens the
 * authorize link the gateway put in its 401 after a chat client's link preview fetched it,
 * sees the gateway's page, clicks its button, is sent to the provider's approval page,
 * submits that form, and lands on the gateway's callback page. The user's next
 * proxied call is signed with the new token. A denial shows the failure page and
 * stores nothing. The click binds the dance to the browser with a cookie: a credentialed
 * start's link completes in the browser that clicked (the cookie is set HttpOnly and
 * SameSite=Lax for the callback, and removed at the end), over plain HTTP and over HTTPS
 * (a Secure `__Host-` cookie), with the gateway on a host of its own so the provider's
 * redirect back is a cross-site navigation; an approval in another browser stores nothing.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { assertChromium, CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { ADMIN, gatewayYaml, pathOf, rawValues, startDanceProvider, type DanceProvider } from './dance-support.js'


let pki: TestPki
let provider: DanceProvider
let gw: RunningGateway
let dir: string
let browser: Browser
let context: BrowserContext
let tlsGw: RunningGateway
// The gateway's own host name, so the provider (https://127.0.0.1) → gateway redirect is cross-site.
const GW_HOST = 'gateway.test'
// Another site, over plain http: a browser sends no Sec-Fetch-Site there.
const EVIL_HOST = 'evil.test'

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-browser-'))
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }))
  const tlsDir = join(dir, 'tls')
  mkdirSync(tlsDir)
  const listenTls = `listen:\n  host: 127.0.0.1\n  port: 0\n  tls:\n    cert: ${pki.file('server-chain.crt')}\n    key: ${pki.file('server.key')}\n`
  tlsGw = await startTestGateway(tlsDir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(tlsDir, 'state.db') } }).replace('listen:\n  host: 127.0.0.1\n  port: 0\n', listenTls))
  assertChromium()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${GW_HOST} 127.0.0.1, MAP ${EVIL_HOST} 127.0.0.1`], headless: true, timeout: START_DEADLINE_MS })
  // The provider's page is served with the throw-away test PKI, which this browser does not know.
  context = await browser.newContext({ ignoreHTTPSErrors: true })
})

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await gw?.close()
  await tlsGw?.close()
  await provider?.close()
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

async function linkFor(user: string): Promise<string> {
  const res = await send(gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': user } })
  expect(res.status, res.text).toBe(401)
  return res.json<{ errors: { authorizeUrl: string }[] }>().errors[0]!.authorizeUrl
}

/** What a chat client's link preview does: GET (and HEAD) the URL, read the page, never submit it. */
async function preview(link: string): Promise<void> {
  for (const method of ['HEAD', 'GET']) {
    const res = await send(gw.url, pathOf(link), { method, headers: { 'user-agent': 'Mozilla/5.0 (compatible; Slackbot-LinkExpanding 1.0)', accept: 'text/html' } })
    expect([method, res.status]).toEqual([method, 200])
  }
}

/** The user opens the link in the browser and clicks the gateway page's button. */
async function openAndClick(link: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(link)
  expect(await page.locator('h1').textContent()).toContain('Partner Bank')
  await Promise.all([page.waitForURL(`${provider.browserUrl}/authorize?oauth_token=**`), page.click('#continue')])
  return page
}

describe('the dance in a real browser (headless Chromium)', () => {
  it('preview → link page → click → provider approval → gateway success page; the next call is signed', async () => {
    const link = await linkFor('carol')
    await preview(link)
    const page = await openAndClick(link)
    await expect(page.locator('h1').textContent()).resolves.toContain('dancegatewayconsumer01')
    await Promise.all([page.waitForURL(`${gw.url}/gateway/oauth1/callback?**`), page.click('#approve')])
    expect(await page.locator('#result').getAttribute('data-result')).toBe('success')
    expect(await page.locator('#result').textContent()).toBe('Authorization complete')
    await page.close()

    const call = await send(gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'carol' } })
    expect(call.status, call.text).toBe(200)
    const token = call.json<{ token: string }>().token
    expect((await provider.state()).access_tokens.map((t) => t.token)).toContain(token)
  })

  it('another site\'s page over plain http cannot press a link\'s button for the victim (login CSRF): the gateway\'s failure page, no dance', async () => {
    // Mallory holds a link for her own user, and reads its page (the CSRF token is on it).
    const link = await credentialedLink(gw, 'mallory')
    const page = await send(gw.url, pathOf(link), { headers: { host: new URL(link).host } })
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1]
    expect(csrf, page.text).toBeDefined()
    // Her page submits the link's form as soon as the victim's browser opens it.
    const evil = createHttpServer((_req, res) => {
      const html = `<!doctype html><form method="POST" action="${link}"><input type="hidden" name="csrf" value="${csrf}"></form><script>document.forms[0].submit()</script>`
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(html) }).end(html)
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    const victim = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const tab = await victim.newPage()
      const answer = tab.waitForResponse((r) => r.request().method() === 'POST' && r.url() === link)
      await tab.goto(`http://${EVIL_HOST}:${(evil.address() as AddressInfo).port}/`)
      const posted = await answer
      // Refused before anything was taken: no redirect to the provider, no dance cookie, the link still unused.
      expect(posted.status()).toBe(403)
      expect(await posted.text()).toContain('This form did not come from the authorization page')
      expect(posted.request().headers().origin).toBe(`http://${EVIL_HOST}:${(evil.address() as AddressInfo).port}`)
      expect(await bindingCookies(victim)).toEqual([])
      // Nothing was taken: the link still opens on its page, its button there.
      const own = await victim.newPage()
      await own.goto(link)
      expect(await own.locator('#continue').count()).toBe(1)
    } finally {
      await victim.close()
      await new Promise((resolve) => evil.close(resolve))
    }
  })

  it('a denied approval shows the failure page and stores nothing', async () => {
    const page = await openAndClick(await linkFor('dave'))
    await Promise.all([page.waitForURL(`${gw.url}/gateway/oauth1/callback?**`), page.click('#deny')])
    expect(await page.locator('#result').getAttribute('data-result')).toBe('failure')
    expect(await page.locator('body').textContent()).toContain('denied')
    await page.close()
    const keys = (await rawValues(gw.runtime.store!)).map((r) => r.key)
    expect(keys.filter((k) => k.startsWith('oauth1:token:/dave:') || k.startsWith('oauth1:request:'))).toEqual([])
    expect((await send(gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'dave' } })).status).toBe(401)
  })

  /** A credentialed start as the bot sends it, to the gateway by its host name: the link it answers with. */
  async function credentialedLink(g: RunningGateway, user: string): Promise<string> {
    const port = new URL(g.url).port
    const tls = g.url.startsWith('https:')
    const text = await new Promise<string>((resolve, reject) => {
      const options = { host: '127.0.0.1', port, path: `/gateway/oauth1/partner/authorize?user=${user}&app=&format=json`, headers: { ...ADMIN, host: `${GW_HOST}:${port}` }, agent: false as const }
      const done = (res: import('node:http').IncomingMessage): void => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))))
      }
      ;(tls ? httpsRequest({ ...options, ca: pki.root.pem, servername: 'localhost' }, done) : httpRequest(options, done)).on('error', reject).end()
    })
    return (JSON.parse(text) as { authorizeUrl: string }).authorizeUrl
  }

  const bindingCookies = async (ctx: BrowserContext): Promise<Awaited<ReturnType<BrowserContext['cookies']>>> => (await ctx.cookies()).filter((c) => c.name.includes('mtls_gw_dance_'))

  it.each(['http', 'https'] as const)('a credentialed start\'s link completes in the browser that clicked it, which holds the dance\'s cookie until the callback (%s)', async (scheme) => {
    const g = scheme === 'https' ? tlsGw : gw
    const base = `${scheme}://${GW_HOST}:${new URL(g.url).port}`
    const link = await credentialedLink(g, 'frank')
    expect(link.startsWith(`${base}/gateway/oauth1/partner/authorize?link=`)).toBe(true)
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const page = await ctx.newPage()
      await page.goto(link)
      expect(await page.locator('#holder-user').textContent()).toBe('frank')
      expect(await bindingCookies(ctx)).toEqual([])
      await Promise.all([page.waitForURL(`${provider.browserUrl}/authorize?oauth_token=**`), page.click('#continue')])
      const cookies = await bindingCookies(ctx)
      expect(cookies).toHaveLength(1)
      expect(cookies[0]).toMatchObject(scheme === 'https'
        ? { name: expect.stringMatching(/^__Host-mtls_gw_dance_/), domain: GW_HOST, path: '/', secure: true, httpOnly: true, sameSite: 'Lax' }
        : { name: expect.stringMatching(/^mtls_gw_dance_/), domain: GW_HOST, path: '/gateway/oauth1/callback', secure: false, httpOnly: true, sameSite: 'Lax' })
      const left = (cookies[0]?.expires ?? 0) - Date.now() / 1000
      expect(left).toBeGreaterThan(500)
      expect(left).toBeLessThanOrEqual(601)
      // The provider (another site) sends the browser back with a top-level navigation: the cookie comes along.
      await Promise.all([page.waitForURL(`${base}/gateway/oauth1/callback?**`), page.click('#approve')])
      expect(await page.locator('#result').getAttribute('data-result')).toBe('success')
      expect(await bindingCookies(ctx)).toEqual([])
    } finally {
      await ctx.close()
    }
    const keys = (await rawValues(g.runtime.store!)).map((r) => r.key)
    expect(keys).toContain('oauth1:token:/frank:partner:')
    expect(keys.filter((k) => k.startsWith('oauth1:request:'))).toEqual([])
  })

  it('the provider page of a dance another browser started, approved in this one, stores nothing', async () => {
    const link = await credentialedLink(gw, 'mallory')
    const starter = await browser.newContext({ ignoreHTTPSErrors: true })
    const approver = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const started = await starter.newPage()
      await started.goto(link)
      await Promise.all([started.waitForURL(`${provider.browserUrl}/authorize?oauth_token=**`), started.click('#continue')])
      // The starter sends the provider's page to someone else, who approves it in their own browser.
      const page = await approver.newPage()
      await page.goto(started.url())
      await Promise.all([page.waitForURL(`http://${GW_HOST}:${new URL(gw.url).port}/gateway/oauth1/callback?**`), page.click('#approve')])
      expect(await page.locator('#result').getAttribute('data-result')).toBe('failure')
      expect(await page.locator('body').textContent()).toContain('This browser did not start this authorization')
    } finally {
      await starter.close()
      await approver.close()
    }
    const keys = (await rawValues(gw.runtime.store!)).map((r) => r.key)
    expect(keys.filter((k) => k.includes('mallory') || k.startsWith('oauth1:request:'))).toEqual([])
    expect((await send(gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'mallory' } })).status).toBe(401)
  })
})
