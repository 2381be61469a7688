/**
 * The console over an HTTPS admin listener in the real headless Chromium: the token path
 * through the login form (the Secure session cookie is kept and sent back), and an
 * allow-listed client certificate signing the operator in with no form at all. Chromium
 * takes the certificate through Playwright's `clientCertificates` (Playwright makes the TLS
 * connection to the gateway with it and hands the browser the answer), since Chromium
 * itself selects a certificate only from an NSS store under a machine-wide policy.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { ADMIN_TOKEN, adminTlsEnv, adminTlsYaml, createAdminPki, type AdminPki } from './admin-tls-support.js'
import { signIn } from './console-support.js'
import { launchChromium } from '../support/chromium.js'
import type { PageDocument } from './page-dom.js'

// The page's global, for the functions evaluated in the browser (tsc has no lib "dom" here).
declare const document: PageDocument

let a: AdminPki
let dir: string
let gw: OpsGateway
let browser: Browser
let consoleUrl: string

beforeAll(async () => {
  a = await createAdminPki()
  Object.assign(process.env, adminTlsEnv(a.pki))
  dir = mkdtempSync(join(tmpdir(), 'admin-tls-browser-'))
  gw = await startOpsGateway(dir, adminTlsYaml(a.pki, { tls: true }), { watch: false })
  consoleUrl = `${gw.adminUrl.replace('127.0.0.1', 'localhost')}/console/`
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await gw?.gw.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  a?.pki.cleanup()
})

const audits = (): Record<string, unknown>[] => gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console')

describe('console over HTTPS in Chromium', () => {
  it('the token path: the login form sets a Secure, HttpOnly, SameSite=Strict cookie the browser sends back', async () => {
    // The test root is not in this browser's trust store.
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const page = await context.newPage()
      await signIn(page, consoleUrl, ADMIN_TOKEN)
      const cookies = await context.cookies(consoleUrl)
      expect(cookies.map((c) => ({ name: c.name, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path }))).toEqual([
        { name: 'mtls_gateway_console', secure: true, httpOnly: true, sameSite: 'Strict', path: '/console/' },
      ])
      await page.goto(`${consoleUrl}#endpoints`)
      await page.waitForSelector('h1:text("Endpoints")')
      expect(await page.isVisible('#logout')).toBe(true)
    } finally {
      await context.close()
    }
  })

  it('an allow-listed client certificate signs in without the form; Reload still carries the CSRF token', async () => {
    const origin = new URL(consoleUrl).origin
    const context = await browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin, certPath: a.alice.cert, keyPath: a.alice.key }] })
    try {
      const page = await context.newPage()
      await page.goto(consoleUrl)
      await page.waitForSelector('#nav:not([hidden])')
      expect(await page.textContent('#who')).toBe('signed in (cert:CN=ops-alice, O=mtls-gateway tests)')
      expect(await page.isVisible('#token')).toBe(false)
      expect(await page.isHidden('#logout')).toBe(true)
      expect(await context.cookies(consoleUrl)).toEqual([])
      await page.click('#reload')
      await page.waitForFunction(() => document.querySelector('#reload-status')?.textContent?.startsWith('Reload succeeded'), undefined, { timeout: 30_000 })
      const line = await eventually(() => audits().find((e) => e.action === 'reload' && e.result === 'ok'), 10_000, 'the reload audit line')
      expect(line.who).toBe('cert:CN=ops-alice, O=mtls-gateway tests')
    } finally {
      await context.close()
    }
  })

  it('a verified certificate that is not allowed gets the login form with the reason', async () => {
    const origin = new URL(consoleUrl).origin
    const context = await browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin, certPath: a.mallory.cert, keyPath: a.mallory.key }] })
    try {
      const page = await context.newPage()
      await page.goto(consoleUrl)
      await page.waitForSelector('#token')
      expect(await page.textContent('#login-error')).toContain('"CN=ops-mallory, O=mtls-gateway tests" is not in admin.tls.clientSubjects')
      await page.fill('#token', ADMIN_TOKEN)
      await page.click('#login button[type=submit]')
      await page.waitForSelector('#nav:not([hidden])')
      expect(await page.textContent('#who')).toBe('signed in (token)')
    } finally {
      await context.close()
    }
  })
})
