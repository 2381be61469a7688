/**
 * The console in the real headless Chromium (Debian package, playwright-core): sign-in
 * and sign-out, every page, Test against the oauthlib provider over mTLS (success, the
 * "Auth Test Failed" Headers and Response tabs, the tenant dialog, the keyboard alone),
 * revoke, an authorize link followed by the dance in the browser, a draft with an error
 * at a known line, reload; axe-core finds nothing serious on any page; no CSP violation.
 * Each page's screenshot goes to docs/console/ for the README.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configSecretValues } from '../../src/ops/index.js'
import { axeViolations, CONSOLE_TOKEN, launchBrowser, SEAL_KEY, signIn, startConsoleRig, type ConsoleRig } from './console-support.js'
import { ADMIN_TOKEN } from '../oauth1-dance/dance-support.js'
import { send } from '../support/gateway.js'
import type { PageDialog, PageDocument, PageInput } from './page-dom.js'

// The page's global, for the functions evaluated in the browser (tsc has no lib "dom" here).
declare const document: PageDocument

const SHOTS = 'docs/console'
let rig: ConsoleRig
let browser: { context: BrowserContext; close(): Promise<void> }
let page: Page
const cspViolations: string[] = []

beforeAll(async () => {
  rig = await startConsoleRig()
  browser = await launchBrowser()
  page = await browser.context.newPage()
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
  })
  await signIn(page, rig.consoleUrl)
})

afterAll(async () => {
  await browser?.close()
  await rig?.close()
})

async function show(name: string, title: string): Promise<void> {
  await page.goto(`${rig.consoleUrl}#${name}`)
  // The same hash again is no navigation: reload so the page shows fresh data.
  await page.reload()
  await page.waitForFunction((t) => document.querySelector('h1')?.textContent === t, title)
}

async function accessible(): Promise<void> {
  expect(await axeViolations(page)).toEqual([])
}

/**
 * Screenshots the page for the README, after checking that no secret of the config is on it
 * (text or form values). Written when missing or with MTLS_GATEWAY_SCREENSHOTS=1, so a test
 * run does not rewrite the committed pictures.
 */
async function shoot(name: string): Promise<void> {
  const shown = await page.evaluate(() => document.body.innerText + [...document.querySelectorAll('input, textarea')].map((e) => (e as PageInput).value).join('\n'))
  for (const secret of [...configSecretValues(rig.ops.gw.ref.current.config), CONSOLE_TOKEN]) expect(shown.includes(secret), `a secret on the ${name} page`).toBe(false)
  const file = join(SHOTS, `${name}.png`)
  const png = await page.screenshot({ fullPage: true })
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  if (process.env.MTLS_GATEWAY_SCREENSHOTS === '1' || !existsSync(file)) {
    mkdirSync(SHOTS, { recursive: true })
    writeFileSync(file, png)
  }
}

/** Some calls and some refusals for a while, so the README's charts have lines (screenshot runs only). */
async function trafficForTheCharts(ms: number): Promise<void> {
  const end = Date.now() + ms
  for (let i = 0; Date.now() < end; i++) {
    await send(rig.ops.gw.url, i % 4 === 0 ? '/proxy/nope/x' : '/gateway/jwks.json')
    await new Promise((r) => setTimeout(r, 50 + (i % 7) * 40))
  }
  await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 2)
}

describe('console in Chromium', () => {
  it('overview: config, reload state, workers, store, live charts; Reload works and a broken file shows why', async () => {
    // Some traffic for the counters.
    for (let i = 0; i < 3; i++) await send(rig.ops.gw.url, '/proxy/nope/x')
    await show('overview', 'Overview')
    await page.waitForSelector('#overview-facts dl')
    expect(await page.textContent('#overview-facts')).toContain(rig.ops.gw.ref.current.config.file)
    expect(await page.textContent('#workers')).toBe('1')
    expect(await page.textContent('#overview-facts')).toContain('sqlite: up')
    await page.waitForFunction(() => Number(document.querySelector('#total-requests')?.textContent) >= 3)
    expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(2)
    await accessible()

    await page.click('#reload')
    await page.waitForFunction(() => document.querySelector('#reload-status')?.textContent?.startsWith('Reload succeeded'))
    await page.waitForFunction(() => /^ok at .*\(console\)/.test(document.querySelector('#last-reload')?.textContent ?? ''))

    const file = rig.ops.gw.ref.current.config.file
    const good = readFileSync(file, 'utf8')
    writeFileSync(file, good.replace('consumerKey: dancegatewayconsumer01', 'consumerKey: 12'))
    try {
      await page.click('#reload')
      await page.waitForFunction(() => document.querySelector('#reload-status')?.textContent?.startsWith('Reload failed'))
      // The overview refreshes its facts on its own beat: wait for it rather than read at once.
      await page.waitForFunction(() => document.querySelector('#last-reload')?.textContent?.startsWith('FAILED at'))
      expect(await page.textContent('#reload-problems')).toContain('consumerKey')
    } finally {
      writeFileSync(file, good)
    }
    await page.click('#reload')
    await page.waitForFunction(() => document.querySelector('#reload-status')?.textContent?.startsWith('Reload succeeded'))
    if (process.env.MTLS_GATEWAY_SCREENSHOTS === '1') await trafficForTheCharts(40_000)
    await shoot('overview')
  })

  it('profiles: secrets masked; Test succeeds beside the button', async () => {
    await show('profiles', 'Profiles')
    const card = page.locator('section.profile[data-profile=partner]')
    expect(await card.textContent()).toContain('••••••')
    expect(await card.textContent()).toMatch(/OAuth version\s*1\.0a/)
    expect(await page.content()).not.toContain('dance-consumer-secret-7f3a')
    await accessible()
    await card.locator('button.test').click()
    await page.waitForFunction(() => /Auth Test (Succeeded|Failed)/.test(document.querySelector('#test-result-partner')?.textContent ?? ''))
    expect(await page.textContent('#test-result-partner')).toBe('Auth Test Succeeded')
    expect(await card.textContent()).toContain('obtained a request token')
  })

  it('profiles: a failing Test shows "Auth Test Failed" with the provider\'s Headers and Response, by keyboard alone', async () => {
    await show('profiles', 'Profiles')
    const card = page.locator('section.profile[data-profile=partner-wrong]')
    // Tab from the top of the page until the Test button of this profile has focus.
    await page.focus('h1').catch(() => undefined)
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab')
      if (await page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Test profile partner-wrong')) break
    }
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Test profile partner-wrong')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => /Auth Test (Succeeded|Failed)/.test(document.querySelector('#test-result-partner-wrong')?.textContent ?? ''))
    expect(await page.textContent('#test-result-partner-wrong')).toBe('Auth Test Failed')
    const failure = card.locator('section.failure')
    expect(await failure.locator('h3').textContent()).toBe('Auth Test Failed')
    const headersTab = failure.locator('[role=tab]', { hasText: 'Headers' })
    const responseTab = failure.locator('[role=tab]', { hasText: 'Response' })
    expect(await headersTab.getAttribute('aria-selected')).toBe('true')
    const headersPanel = failure.locator('[role=tabpanel]').first()
    expect(await headersPanel.textContent()).toContain('HTTP 401')
    expect(await headersPanel.textContent()).toMatch(/content-typeapplication\/x-www-form-urlencoded/)
    // Keyboard: focus the selected tab (focus returns to the Test button), Tab into the tab list, arrow to Response.
    for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.getAttribute('role') === 'tab')); i++) await page.keyboard.press('Tab')
    await page.keyboard.press('ArrowRight')
    expect(await responseTab.getAttribute('aria-selected')).toBe('true')
    const responsePanel = failure.locator('[role=tabpanel]').nth(1)
    await expect(responsePanel.isVisible()).resolves.toBe(true)
    expect(await responsePanel.textContent()).toMatch(/HTTP 401.*error=/s)
    expect(await page.content()).not.toContain('wrong-consumer-secret-q7c2')
    await accessible()
    await shoot('profiles')
  })

  it('profiles: a profile with tenancy asks for the tenant in a dialog first', async () => {
    await show('profiles', 'Profiles')
    await page.locator('section.profile[data-profile=tenanted] button.test').click()
    const dialog = page.locator('#tenant-dialog')
    await dialog.waitFor()
    expect(await dialog.evaluate((d) => (d as PageDialog).open)).toBe(true)
    await accessible()
    await page.keyboard.type('acme')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => /Auth Test (Succeeded|Failed)/.test(document.querySelector('#test-result-tenanted')?.textContent ?? ''))
    expect(await page.textContent('#test-result-tenanted')).toBe('Auth Test Succeeded')
    expect(await page.locator('#tenant-dialog').count()).toBe(0)
  })

  it('endpoints: a row per endpoint with subject, issuer, days left; the name opens the chain and last handshake', async () => {
    // The profile tests above dialled the provider over this endpoint's mTLS.
    await show('endpoints', 'Endpoints')
    const row = page.locator('tr.endpoint-row[data-endpoint=partner]')
    await expect(row.textContent()).resolves.toContain('CN=')
    await accessible()
    const toggle = row.locator('button.link')
    await toggle.click()
    expect(await toggle.getAttribute('aria-expanded')).toBe('true')
    const details = page.locator('#endpoint-details-0')
    await expect(details.isVisible()).resolves.toBe(true)
    const text = (await details.textContent()) ?? ''
    expect(text).toContain('client')
    expect(text).toContain('intermediate')
    expect(text).toMatch(/TLSv1\.[23], (resumed|full handshake)/)
    await accessible()
    // Test connection: the five steps over a new connection, each shown, by keyboard.
    await row.locator('button.test').focus()
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => /Connection Test (Passed|Failed)/.test(document.querySelector('#connection-result-0')?.textContent ?? ''))
    expect(await page.textContent('#connection-result-0')).toBe('Connection Test Passed')
    const steps = await page.locator('section.connection-test li').allTextContents()
    expect(steps).toHaveLength(5)
    expect(steps.every((t) => t.includes(': ok'))).toBe(true)
    expect(steps[0]).toMatch(/^the gateway requests the endpoint: ok \(connected to 127\.0\.0\.1:\d+\)$/)
    expect(steps[4]).toMatch(/^the server verifies it and grants access: ok \(HTTP \d{3}\)$/)
    await accessible()
    await shoot('endpoints')
  })

  it('users: create an authorize link, do the dance in the browser, see the holder, revoke', async () => {
    await show('users', 'Users')
    await accessible()
    // Whose user: these callers name their user with X-Gateway-User, without an app.
    await page.selectOption('#link-app', '')
    await page.selectOption('#link-profile', 'partner')
    await page.fill('#link-user', 'erin')
    await page.click('#link-form button[type=submit]')
    await page.waitForFunction(() => (document.querySelector('#link-url') as PageInput | null)?.value.includes('link='))
    const link = await page.inputValue('#link-url')
    expect(link.startsWith(`${rig.ops.gw.url}/gateway/oauth1/partner/authorize?link=`)).toBe(true)

    const dance = await browser.context.newPage()
    // The link's page first (all a link preview sees), then its button to the provider.
    await dance.goto(link)
    // The page names whom the link is for, so a forwarded link is recognisable.
    expect(await dance.locator('#holder-user').textContent()).toBe('erin')
    await Promise.all([dance.waitForURL(`${rig.provider.browserUrl}/authorize?oauth_token=**`), dance.click('#continue')])
    await Promise.all([dance.waitForURL(`${rig.ops.gw.url}/gateway/oauth1/callback?**`), dance.click('#approve')])
    expect(await dance.locator('#result').getAttribute('data-result')).toBe('success')
    await dance.close()
    const call = await send(rig.ops.gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'erin' } })
    expect(call.status, call.text).toBe(200)

    await show('users', 'Users')
    const row = page.locator('#holders tr[data-user=erin]')
    await row.waitFor()
    expect(await row.textContent()).toContain('partner')
    expect(await row.textContent()).toContain('(callers without an app)')
    expect(await page.content()).not.toContain(call.json<{ token: string }>().token)
    await accessible()
    await shoot('users')
    await row.locator('button', { hasText: 'Revoke' }).click()
    await page.waitForFunction(() => document.querySelector('#users-status')?.textContent?.startsWith('Revoked erin'))
    expect(await page.locator('#holders tr[data-user=erin]').count()).toBe(0)
    expect((await send(rig.ops.gw.url, '/proxy/partner/resource/me', { headers: { 'x-gateway-user': 'erin' } })).status).toBe(401)
  })

  it('validate a draft: check\'s errors at their lines, and what a reload would change', async () => {
    await show('draft', 'Validate a draft')
    await accessible()
    const current = readFileSync(rig.ops.gw.ref.current.config.file, 'utf8')
    // Drafts, like configs, name secrets by reference (and the screenshot shows none).
    process.env.CONSOLE_TEST_CONSUMER_SECRET = 'dance-consumer-secret-7f3a'
    process.env.CONSOLE_TEST_SEAL_KEY = SEAL_KEY
    process.env.CONSOLE_TEST_API_TOKEN = ADMIN_TOKEN
    const draft = current
      .replace(/consumerSecret: ".*"/g, 'consumerSecret: "${env:CONSOLE_TEST_CONSUMER_SECRET}"')
      .replace(/key: "[0-9a-f]{64}"/, 'key: "${env:CONSOLE_TEST_SEAL_KEY}"')
      .replace(/adminToken: .*/, 'adminToken: "${env:CONSOLE_TEST_API_TOKEN}"')
    const lines = draft.split('\n')
    const at = lines.findIndex((l) => l.includes('consumerKey: dancegatewayconsumer01')) + 1
    lines[at - 1] = lines[at - 1]!.replace('consumerKey: dancegatewayconsumer01', 'consumerKey: 42')
    await page.fill('#draft-yaml', lines.join('\n'))
    await page.click('#draft-form button[type=submit]')
    await page.waitForSelector('#draft-verdict')
    expect(await page.textContent('#draft-verdict')).toMatch(/^1 problem\(s\)/)
    expect(await page.getAttribute('.draft-lines li.bad', 'data-line')).toBe(String(at))
    expect(await page.textContent('#draft-problems')).toContain(`gateway.yaml:${at}:`)
    await accessible()
    await shoot('draft')

    const added = draft.replace('profiles:\n', `  - name: second\n    url: https://api.partner.test:1\n    resolve: 127.0.0.1\n    allowPrivate: true\n    tls:\n      cert: ${rig.pki.file('client.crt')}\n      key: ${rig.pki.file('client.key')}\n      intermediates: ${rig.pki.file('inter.crt')}\n      roots: ${rig.pki.file('root.crt')}\nprofiles:\n`)
    await page.fill('#draft-yaml', added)
    await page.click('#draft-form button[type=submit]')
    await page.waitForFunction(() => document.querySelector('#draft-verdict')?.textContent === 'The draft is valid.')
    expect(await page.textContent('#draft-changes')).toContain('Endpoints added: second')
    expect(readFileSync(rig.ops.gw.ref.current.config.file, 'utf8')).toBe(current)
  })

  it('sign out returns to the login form; a wrong token is refused there', async () => {
    await show('overview', 'Overview')
    await page.click('#logout')
    await page.waitForSelector('#login')
    expect(await page.textContent('#login-error')).toBe('Signed out.')
    await accessible()
    await shoot('login')
    await page.reload()
    await page.waitForSelector('#login')
    await page.fill('#token', 'definitely-not-the-token')
    await page.click('#login button[type=submit]')
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'wrong admin token')
    await signIn(page, rig.consoleUrl)
    expect(await page.isVisible('#nav')).toBe(true)
  })

  it('no page broke the Content-Security-Policy', () => {
    expect(cspViolations).toEqual([])
  })
})
