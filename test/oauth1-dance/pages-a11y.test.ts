/**
 * The dance's pages (link page with user fields, success, failure) as served, in the real
 * headless Chromium: axe-core finds no violation at all (their content sits in a main landmark).
 */
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failurePage, linkPage, sendPage, successPage } from '../../src/dance/pages.js'
import { assertChromium, CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js'

declare const window: unknown

const PAGES: Readonly<Record<string, string>> = {
  link: linkPage('Bank', '/x', 'csrf', ['pin', 'account number'], { user: 'alice', tenant: 'acme', anonymous: false }),
  failure: failurePage('Access was denied at the provider.'),
  success: successPage('Bank'),
}
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

let server: Server
let base: string
let browser: Browser
let page: Page

beforeAll(async () => {
  server = createServer((req, res) => sendPage(res, 200, PAGES[(req.url ?? '/').slice(1)] ?? ''))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  assertChromium()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
  page = await browser.newPage()
})

afterAll(async () => {
  await browser?.close()
  await new Promise((r) => server?.close(r))
})

describe('the dance pages are accessible', () => {
  for (const name of Object.keys(PAGES)) {
    it(`the ${name} page has no axe-core violation`, async () => {
      await page.goto(base + name)
      await page.evaluate(AXE)
      const violations = await page.evaluate(async () => {
        const w = window as { axe: { run(): Promise<{ passes: unknown[]; violations: { id: string; impact: string }[] }> } }
        const r = await w.axe.run()
        if (r.passes.length === 0) throw new Error('axe-core ran no check')
        return r.violations.map((v) => `${v.id} (${v.impact})`)
      })
      expect(violations).toEqual([])
    })
  }
})
