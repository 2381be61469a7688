/**
 * The link page's "this authorization is for user X" is what lets a user recognise a link
 * forwarded to them (a phishing link for someone else's account). A user id is the caller's
 * word (a JWT `sub`, X-Gateway-User): one holding bidi overrides or invisible characters must
 * not render as another id. Rendered in the real headless Chromium: "\u202Eecila" must not
 * look like "alice"; and every control or format character is shown, never interpreted.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkPage, sendPage } from '../../src/dance/pages.js'
import { assertChromium, CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js'

let server: Server
let base: string
let browser: Browser
let page: Page

beforeAll(async () => {
  server = createServer((req, res) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? ''
    sendPage(res, 200, linkPage('Bank', '/x', 'csrf', [], { user, anonymous: false }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  assertChromium()
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
  page = await browser.newPage({ viewport: { width: 800, height: 400 } })
})

afterAll(async () => {
  await browser?.close()
  await new Promise((r) => server?.close(r))
})

async function holderPixels(user: string): Promise<Buffer> {
  await page.goto(`${base}?user=${encodeURIComponent(user)}`)
  return page.locator('#holder').screenshot()
}

describe('the link page shows the user id as it is', () => {
  it('a bidi override does not make one id look like another (Chromium)', async () => {
    const alice = await holderPixels('alice')
    for (const spoof of ['\u202Eecila', '\u2067\u202Eecila', 'ali\u200Bce', '\u202Dalice\u202C', 'ecila\u200F\u202E'.split('').reverse().join('')]) {
      expect((await holderPixels(spoof)).equals(alice), JSON.stringify(spoof)).toBe(false)
    }
  })

  it('an invisible mark that is neither control nor format does not make one id look like another (Chromium)', async () => {
    const alice = await holderPixels('alice')
    // Default-ignorable code points of other categories: the combining grapheme joiner, variation
    // selectors (also supplementary), a Mongolian selector, a Khmer inherent vowel, an unassigned one.
    for (const spoof of ['alice\u034F', 'ali\uFE0Fce', 'ali\u{E0100}ce', 'ali\u180Bce', 'ali\u17B4ce', 'alice\u2065']) {
      expect((await holderPixels(spoof)).equals(alice), JSON.stringify(spoof)).toBe(false)
    }
  })

  it('no control or format character reaches the page text; each is shown by its code point (1,000 runs)', () => {
    const invisible = fc.constantFrom('\u202E', '\u202D', '\u2066', '\u2067', '\u2068', '\u2069', '\u200B', '\u200E', '\u200F', '\u061C', '\u00AD', '\u2028', '\u2029', '\u0000', '\u001B', '\u007F', '\u0085', '\uFEFF', '\u{E0041}')
    const text = fc.array(fc.oneof(invisible, fc.constantFrom('a', 'b', 'é', '\u05D0', ' ', '\\')), { minLength: 1, maxLength: 16 }).map((a) => a.join(''))
    fc.assert(
      fc.property(text, (user) => {
        const html = linkPage('Bank', '/x', 'csrf', [], { user, anonymous: false })
        const shown = /<b id="holder-user">([^<]*)<\/b>/.exec(html)?.[1] ?? ''
        expect(shown).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u)
        for (const c of user) if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(c)) expect(shown).toContain(`\\u{${(c.codePointAt(0) as number).toString(16).toUpperCase()}}`)
      }),
      { seed: 0x5b1d1, numRuns: 1_000 },
    )
  })

  it('no default-ignorable code point reaches the page text; each is shown by its code point (1,000 runs)', () => {
    const ignorable = fc.constantFrom('\u034F', '\u115F', '\u17B4', '\u180B', '\u3164', '\uFE00', '\uFE0F', '\uFFA0', '\u2065', '\u{E0100}', '\u{E01EF}', '\u{1BCA0}')
    const text = fc.array(fc.oneof(ignorable, fc.constantFrom('a', 'b', 'é', ' ')), { minLength: 1, maxLength: 16 }).map((a) => a.join(''))
    fc.assert(
      fc.property(text, (user) => {
        const html = linkPage('Bank', '/x', 'csrf', [], { user, anonymous: false })
        const shown = /<b id="holder-user">([^<]*)<\/b>/.exec(html)?.[1] ?? ''
        expect(shown).not.toMatch(/\p{Default_Ignorable_Code_Point}/u)
        for (const c of user) if (/\p{Default_Ignorable_Code_Point}/u.test(c)) expect(shown).toContain(`\\u{${(c.codePointAt(0) as number).toString(16).toUpperCase()}}`)
      }),
      { seed: 0xd1ce, numRuns: 1_000 },
    )
  })
})
