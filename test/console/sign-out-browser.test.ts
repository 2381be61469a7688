/**
 * A sign-out the server does not confirm, in the real headless Chromium: on a Redis whose
 * writes never reach the replica they must (reads work, every write fails), sign-in still
 * works (the session key is already there; the sign-in throttle counts in the process while
 * its store writes fail), and Sign out answers 503. The page then shows the server's message
 * on the login form (the 503 cleared this browser's cookie), never "Signed out.".
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import type { Peer } from '../support/peers.js'
import { startRedisServer } from '../support/redis-servers.js'
import { CONSOLE_TOKEN, launchBrowser, signIn } from './console-support.js'
import type { PageDocument } from './page-dom.js'

// The page's global, for the functions evaluated in the browser (tsc has no lib "dom" here).
declare const document: PageDocument

const TOKEN_ENV = 'MTLS_GATEWAY_TEST_CONSOLE_TOKEN'
let redis: Peer
let dir: string
let gw: OpsGateway
let browser: { context: BrowserContext; close(): Promise<void> }
let page: Page

beforeAll(async () => {
  process.env[TOKEN_ENV] = CONSOLE_TOKEN
  redis = await startRedisServer()
  const url = `redis://127.0.0.1:${redis.port}`
  // The session key a first start would have written (signing in then only reads it).
  const seed = openStore({ kind: 'redis', url, keyPrefix: 'signout:' })
  await seed.put('console:session:key:plain', `plain.${randomBytes(32).toString('base64url')}`)
  await seed.close()
  dir = mkdtempSync(join(tmpdir(), 'console-sign-out-'))
  gw = await startOpsGateway(dir, `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "\${env:${TOKEN_ENV}}" }
store: { kind: redis, url: "${url}", keyPrefix: "signout:", redis: { commandTimeout: 600ms, acknowledgeTimeout: 200ms, replicasToAcknowledge: 1, connectTimeout: 400ms } }
endpoints: []
`, { watch: false })
  browser = await launchBrowser()
  page = await browser.context.newPage()
})

afterAll(async () => {
  await browser?.close()
  await gw?.gw.close()
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('sign-out in the browser', () => {
  it('a 503 from sign-out shows the server\'s message on the login form, not "Signed out."', async () => {
    await signIn(page, `${gw.adminUrl}/console/`)
    const answered = page.waitForResponse((r) => r.url().endsWith('/console/api/logout'))
    await page.click('#logout')
    expect((await answered).status()).toBe(503)
    await page.waitForSelector('#login')
    await page.waitForFunction(() => (document.querySelector('#login-error')?.textContent ?? '') !== '')
    const shown = await page.textContent('#login-error')
    expect(shown).toMatch(/^sign-out could not be confirmed by the store \(.*\): this browser forgot the session, but a copy of its cookie may stay valid until it expires/)
    expect(await page.isHidden('#nav')).toBe(true)
  })
})
