/**
 * The console published the way operators commonly do it, in the real headless Chromium: behind
 * a TLS-terminating reverse proxy (the real nginx, as an Ingress is) that serves
 * https://gw-admin.example.com:<port> and forwards plain http to the admin listener, which lists
 * that Host in admin.allowedHosts. The browser's Origin names https and the proxy's port, never
 * what the listener serves: until admin.consoleOrigins lists it, every action (sign-in first) is
 * refused 403 console_request_refused. A reload that adds it lets the operator sign in, reload
 * the config from the console, and sign out, all through the proxy. X-Forwarded-Proto, which
 * nginx sets as an Ingress does, is never what decides.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { launchChromium } from '../support/chromium.js'
import { startNginx, type Peer } from '../support/peers.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { CONSOLE_TOKEN, signIn } from './console-support.js'
import type { PageDocument } from './page-dom.js'

declare const document: PageDocument

const TOKEN_ENV = 'MTLS_GATEWAY_TEST_CONSOLE_TOKEN'
const NAME = 'gw-admin.example.com'
let pki: TestPki
let dir: string
let gw: OpsGateway
let proxy: Peer
let browser: Browser
let page: Page

const yaml = (origins: string[]): string => `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "\${env:${TOKEN_ENV}}", allowedHosts: [${NAME}], consoleOrigins: [${origins.map((o) => JSON.stringify(o)).join(', ')}] }
endpoints: []
`

beforeAll(async () => {
  process.env[TOKEN_ENV] = CONSOLE_TOKEN
  pki = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'console-ingress-'))
  gw = await startOpsGateway(dir, yaml([]))
  const admin = new URL(gw.adminUrl)
  proxy = await startNginx({ server: `    ssl_certificate ${pki.file('server-chain.crt')};
    ssl_certificate_key ${pki.file('server.key')};
    location / {
      proxy_pass http://127.0.0.1:${admin.port};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host:$server_port;
      proxy_set_header X-Forwarded-For $remote_addr;
    }` })
  browser = await launchChromium([`--host-resolver-rules=MAP ${NAME} 127.0.0.1`])
  page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage()
})

afterAll(async () => {
  await browser?.close()
  await proxy?.stop()
  await gw?.gw.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the console behind a TLS-terminating reverse proxy', () => {
  it('refuses every action until admin.consoleOrigins names the public origin; then sign-in, Reload and sign-out work through the proxy', async () => {
    const origin = `https://${NAME}:${proxy.port}`
    const consoleUrl = `${origin}/console/`
    await page.goto(consoleUrl)
    const refused = page.waitForResponse((r) => r.url().endsWith('/console/api/login'))
    await page.fill('#token', CONSOLE_TOKEN)
    await page.click('#login button[type=submit]')
    const answer = await refused
    expect(answer.status()).toBe(403)
    expect(await answer.text()).toContain('console actions are accepted only from the console page itself')

    const reloaded = gw.lines.length
    writeFileSync(join(dir, 'gateway.yaml'), yaml([origin.toUpperCase()]))
    await eventually(() => gw.lines.slice(reloaded).some((l) => l.includes('"config reloaded"')), 30_000, 'the reload')

    await signIn(page, consoleUrl)
    // The browser reached the console over https: its session cookie is Secure although the admin listener serves http.
    const session = (await page.context().cookies(consoleUrl)).filter((c) => c.path === '/console/')
    expect(session.map((c) => c.secure)).toEqual([true])
    await page.click('#reload')
    await page.waitForFunction(() => document.querySelector('#reload-status')?.textContent?.startsWith('Reload succeeded'))
    const signedOut = page.waitForResponse((r) => r.url().endsWith('/console/api/logout'))
    await page.click('#logout')
    expect((await signedOut).status()).toBe(200)
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'Signed out.')
    // Every one of them went through nginx, over TLS.
    const passed = proxy.read('access.log')
    for (const path of ['POST /console/api/login', 'POST /console/api/reload', 'POST /console/api/logout']) expect(passed).toContain(path)
  })
})
