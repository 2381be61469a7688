/**
 * The console's Users page names who holds a token, and an operator revokes or hands out links
 * by what it shows. A user id is the caller's word: one holding a bidi override or an invisible
 * mark must not render as another id ("\u202Eecila" as "alice"). The page shows ids by the link
 * page's rule (dance/pages.ts visibleText). Since session 33 a user id holding a bidi control
 * (U+202E and its kin) is refused on every path (src/callers/user-id.ts), so none can be linked
 * or danced any more; the page's rule still covers ids an earlier version stored. Real tokens through the python3-oauthlib dance, real
 * SQLite, the page rendered in headless Chromium.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { danceInBrowser } from '../oauth1-dance/dance-support.js'
import { adminRequest, apiSession, launchBrowser, signIn, useConsoleRig } from './console-support.js'
import type { PageDocument } from './page-dom.js'

// The page's global, for the functions evaluated in the browser (no lib "dom" here).
declare const document: PageDocument

const use = useConsoleRig()
const ALICE = 'alice'
// A zero-width space (format), and two default-ignorable marks of no control or format category.
const SPOOFS = ['ali\uFE0Fce', '\u200Balice', 'alice\u034F']
// A right-to-left override: refused as a user id, so it never reaches the page.
const REFUSED = '\u202Eecila'
let browser: Awaited<ReturnType<typeof launchBrowser>>
let page: Page

beforeAll(async () => {
  const s = await apiSession(use.rig.consoleUrl)
  for (const user of [ALICE, ...SPOOFS]) {
    const r = await adminRequest(`${use.rig.consoleUrl}api/users/link`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: { app: '', profile: 'partner', user } })
    const { done } = await danceInBrowser((JSON.parse(r.text) as { url: string }).url, { provider: use.rig.provider, gateway: use.rig.ops.gw.url })
    if (done.status !== 200) throw new Error(`dance for ${JSON.stringify(user)}: ${done.status}`)
  }
  const refused = await adminRequest(`${use.rig.consoleUrl}api/users/link`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: { app: '', profile: 'partner', user: REFUSED } })
  const said = (JSON.parse(refused.text) as { errors: { msg: string }[] }).errors[0]?.msg
  if (refused.status !== 400 || said !== '"user" must not contain control or bidirectional formatting characters') throw new Error(`link for a bidi override: ${refused.status} ${refused.text}`)
  browser = await launchBrowser()
  page = await browser.context.newPage()
  await signIn(page, use.rig.consoleUrl)
  await page.goto(`${use.rig.consoleUrl}#users`)
  await page.waitForSelector('#holders tbody tr')
})

afterAll(async () => {
  await browser?.close()
})

/** The row header (the user id cell) of `user`'s row. */
async function userCell(user: string): Promise<ReturnType<Page['locator']>> {
  const index = await page.evaluate((u) => [...document.querySelectorAll('#holders tbody tr')].findIndex((tr) => tr.getAttribute('data-user') === u), user)
  expect(index, JSON.stringify(user)).toBeGreaterThanOrEqual(0)
  return page.locator('#holders tbody tr').nth(index).locator('th')
}

describe('the Users page shows user ids as they are', () => {
  it('no id renders as another (Chromium pixels), and each hidden character is written as its code point', async () => {
    const alice = await (await userCell(ALICE)).screenshot()
    for (const spoof of SPOOFS) {
      const cell = await userCell(spoof)
      expect((await cell.screenshot()).equals(alice), JSON.stringify(spoof)).toBe(false)
      const hidden = [...spoof].filter((c) => /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(c))
      for (const c of hidden) expect(await cell.textContent()).toContain(`\\u{${(c.codePointAt(0) as number).toString(16).toUpperCase()}}`)
    }
  })
})
