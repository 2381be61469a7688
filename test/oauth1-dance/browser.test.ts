/**
 * A real browser: headless Debian Chromium (driven by playwright-core) opens the
 * authorize link the gateway put in its 401 after a chat client's link preview fetched it,
 * sees the gateway's page, clicks its button, is sent to the provider's approval page,
 * submits that form, and lands on the gateway's callback page. The user's next
 * proxied call is signed with the new token. A denial shows the failure page and
 * stores nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/serve.js'
import { launchChromium } from '../support/chromium.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { gatewayYaml, pathOf, rawValues, startDanceProvider, type DanceProvider } from './dance-support.js'


let pki: TestPki
let provider: DanceProvider
let gw: RunningGateway
let dir: string
let browser: Browser
let context: BrowserContext

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-browser-'))
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }))
  browser = await launchChromium()
  // The provider's page is served with the throw-away test PKI, which this browser does not know.
  context = await browser.newContext({ ignoreHTTPSErrors: true })
})

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await gw?.close()
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

  it('a denied approval shows the failure page and stores nothing', async () => {
    const page = await openAndClick(await linkFor('dave'))
    await Promise.all([page.waitForURL(`${gw.url}/gateway/oauth1/callback?**`), page.click('#deny')])
    expect(await page.locator('#result').getAttribute('data-result')).toBe('failure')
    expect(await page.locator('body').textContent()).toContain('denied')
    await page.close()
    const keys = (await rawValues(gw.runtime.store!)).map((r) => r.key)
    expect(keys.filter((k) => k.startsWith('oauth1:token:dave') || k.startsWith('oauth1:request:'))).toEqual([])
    expect((await send(gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'dave' } })).status).toBe(401)
  })
})
