/**
 * The console's page name comes from the URL's hash, which a link from anywhere sets: a name
 * that is an Object.prototype member (#constructor, #toString, #__proto__) must show the
 * overview like any unknown name, and navigation must keep working afterwards (real Chromium).
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, signIn, startConsoleRig, type ConsoleRig } from './console-support.js'
import type { PageDocument } from './page-dom.js'

declare const document: PageDocument

let rig: ConsoleRig
let browser: Awaited<ReturnType<typeof launchBrowser>>
let page: Page

beforeAll(async () => {
  rig = await startConsoleRig()
  browser = await launchBrowser()
  page = await browser.context.newPage()
  await signIn(page, rig.consoleUrl)
})

afterAll(async () => {
  await browser?.close()
  await rig?.close()
})

const heading = (): Promise<string | null | undefined> => page.evaluate(() => document.querySelector('h1')?.textContent)

describe('the console routes only its own page names', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    it(`#${name} shows the overview, and the next page still opens`, async () => {
      await page.goto(`${rig.consoleUrl}#${name}`)
      await page.reload()
      await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Overview', undefined, { timeout: 30_000 })
      await page.goto(`${rig.consoleUrl}#endpoints`)
      await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Endpoints', undefined, { timeout: 30_000 })
      expect(await heading()).toBe('Endpoints')
    })
  }
})
