/**
 * The console attacked as a web page would, in the real headless Chromium, while an operator is
 * signed in in the same browser. The attacker's page is served from another port of the same
 * address (same site: the SameSite=Strict cookie goes along; another origin), with no CSP:
 * - CSRF: simple (no-preflight) fetches and a form POST to every state-changing route, and a
 *   JSON fetch that needs a preflight: nothing changes (no reload, link, draft, sign-out), each
 *   reaching request is refused as cross-origin.
 * - clickjacking: the console in an iframe does not render.
 * - cookie tossing: a cookie of the console's name the page plants (ports do not separate cookies)
 *   does not sign the operator out.
 * - XSS: markup as a user id (stored through a real dance), in a draft (its keys in
 *   check's problems), on the authorize link's page: shown as text, never run, no CSP violation.
 * - cookie flags, and no-store and the CSP on every response of the console.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Page, Response } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CSP } from '../../src/console/http.js'
import { danceInBrowser } from '../oauth1-dance/dance-support.js'
import { adminRequest, apiSession, launchBrowser, signIn, useConsoleRig } from './console-support.js'
import type { PageDocument, PageInput } from './page-dom.js'

// The page's globals, for the functions evaluated in the browser (no lib "dom" here).
declare const document: PageDocument & { cookie: string; getElementById(id: string): PageInput | null }
declare const window: Record<string, unknown>

const use = useConsoleRig()
/** Markup that runs script if parsed as HTML (an inline handler: the CSP would also say so). */
const XSS = (tag: string): string => `<img src=x onerror="window.__xss='${tag}'"><script>window.__xss='${tag}'</script>`
const USER = XSS('user')
let browser: Awaited<ReturnType<typeof launchBrowser>>
let operator: Page
let attacker: Server
let attackerUrl: string
const pages = new Map<string, string>()
const cspViolations: string[] = []
const consoleResponses: Response[] = []

beforeAll(async () => {
  const s = await apiSession(use.rig.consoleUrl)
  const r = await adminRequest(`${use.rig.consoleUrl}api/users/link`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: { app: '', profile: 'partner', user: USER } })
  if (r.status !== 200) throw new Error(`link: ${r.status} ${r.text}`)
  const { done } = await danceInBrowser((JSON.parse(r.text) as { url: string }).url, { provider: use.rig.provider, gateway: use.rig.ops.gw.url })
  if (done.status !== 200) throw new Error(`dance: ${done.status}`)
  attacker = createServer((req, res) => {
    const body = pages.get(req.url ?? '') ?? ''
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r))
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`
  browser = await launchBrowser()
  operator = await browser.context.newPage()
  operator.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
  })
  operator.on('response', (r) => {
    if (r.url().startsWith(use.rig.consoleUrl)) consoleResponses.push(r)
  })
  await signIn(operator, use.rig.consoleUrl)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  attacker?.closeAllConnections()
  if (attacker) await new Promise((r) => attacker.close(r))
})

const audits = (): Record<string, unknown>[] => use.rig.ops.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console')

/** Opens the attacker's page `html` in a new tab of the operator's browser and waits for `window.done`. */
async function attackWith(html: string): Promise<Page> {
  const path = `/p${pages.size}`
  pages.set(path, html)
  const tab = await browser.context.newPage()
  await tab.goto(`${attackerUrl}${path}`)
  await tab.waitForFunction(() => window.done === true, undefined, { timeout: 30_000 })
  return tab
}

async function stillSignedIn(): Promise<void> {
  await operator.goto(`${use.rig.consoleUrl}#overview`)
  await operator.reload()
  await operator.waitForSelector('#nav:not([hidden])', { timeout: 30_000 })
  await operator.waitForFunction(() => document.querySelector('h1')?.textContent === 'Overview', undefined, { timeout: 30_000 })
}

describe('the console under a web page\'s attacks (Chromium)', () => {
  it('CSRF from a page on another port of the same address: no route acts, every request that reaches it is refused as cross-origin', async () => {
    const before = audits().length
    const target = `${use.rig.consoleUrl}api/`
    const body = JSON.stringify({ yaml: 'endpoints: []\n', profile: 'partner', user: 'erin', app: '', space: '', token: 'x' })
    const routes = ['reload', 'users/link', 'users/revoke', 'profiles/test', 'endpoints/test', 'draft', 'logout', 'login']
    const tab = await attackWith(`<!doctype html><iframe name="sink"></iframe>
<form id="f" method="POST" action="${target}reload" enctype="text/plain" target="sink"><input name='{"a":"' value='"}'></form>
<script>
(async () => {
  const out = []
  for (const r of ${JSON.stringify(routes)}) {
    for (const [type, mode] of [['text/plain', 'no-cors'], ['application/x-www-form-urlencoded', 'no-cors'], ['application/json', 'cors']]) {
      try {
        const res = await fetch(${JSON.stringify(target)} + r, { method: 'POST', mode, credentials: 'include', headers: { 'content-type': type }, body: ${JSON.stringify(body)} })
        out.push([r, type, res.type, res.status])
      } catch (e) { out.push([r, type, 'blocked']) }
    }
  }
  document.getElementById('f').submit()
  await new Promise((r) => setTimeout(r, 300))
  window.results = out
  window.done = true
})()
</script>`)
    const results = (await tab.evaluate(() => window.results)) as unknown[][]
    // The script could read nothing: the simple requests are opaque, the JSON one is stopped at its preflight.
    expect(results.filter((r) => r[2] !== 'opaque' && r[2] !== 'blocked')).toEqual([])
    expect(results.filter((r) => r[1] === 'application/json').map((r) => r[2])).toEqual(Array(routes.length).fill('blocked'))
    await tab.close()
    const during = audits().slice(before)
    expect(during.filter((e) => e.result !== 'cross_origin_refused')).toEqual([])
    // Each simple request and the form: 2 per route and 1, within the default cap of 20 per kind.
    expect(during.length).toBe(2 * routes.length + 1)
    await stillSignedIn()
  })

  it('clickjacking: the console in another site\'s frame does not render', async () => {
    const tab = await attackWith(`<!doctype html><iframe id="c" src="${use.rig.consoleUrl}" width="800" height="600"></iframe>
<script>document.getElementById('c').addEventListener('load', () => { window.done = true }); setTimeout(() => { window.done = true }, 5000)</script>`)
    const rendered: boolean[] = []
    for (const f of tab.frames()) {
      if (f === tab.mainFrame()) continue
      rendered.push(await f.evaluate(() => document.querySelector('#token, #nav') !== null).catch(() => false))
    }
    expect(rendered.length).toBeGreaterThan(0)
    expect(rendered).not.toContain(true)
    await tab.close()
  })

  it('cookie tossing: a console cookie planted by a page on another port does not sign the operator out', async () => {
    const tab = await attackWith(`<!doctype html><script>
document.cookie = 'mtls_gateway_console=planted.by.another.port; path=/console/api/'
document.cookie = 'mtls_gateway_console=planted.too; path=/console/'
window.done = true
</script>`)
    await tab.close()
    try {
      const planted = (await browser.context.cookies()).filter((c) => c.name === 'mtls_gateway_console')
      expect(planted.map((c) => [c.path, c.httpOnly])).toContainEqual(['/console/api/', false])
      await stillSignedIn()
      await operator.goto(`${use.rig.consoleUrl}#users`)
      await operator.waitForSelector('#holders tbody tr', { timeout: 30_000 })
    } finally {
      await browser.context.clearCookies()
      await signIn(operator, use.rig.consoleUrl)
    }
  })

  it('XSS: markup in a user id, a draft and a link page is shown as text and never runs', async () => {
    await operator.goto(`${use.rig.consoleUrl}#users`)
    await operator.reload()
    await operator.waitForSelector('#holders tbody tr')
    const text = await operator.evaluate(() => document.body.innerText)
    expect(text).toContain(USER)
    await operator.goto(`${use.rig.consoleUrl}#draft`)
    await operator.reload()
    await operator.waitForSelector('#draft-yaml')
    await operator.fill('#draft-yaml', `endpoints:\n  - name: "${XSS('endpoint').replaceAll('"', '\\"')}"\n    url: https://a.example\n    "${XSS('key').replaceAll('"', '\\"')}": 1\n`)
    await operator.click('#draft-form button[type=submit]')
    await operator.waitForSelector('#draft-verdict')
    expect(await operator.evaluate(() => document.body.innerText)).toContain("window.__xss='key'")
    // The link page of a link for that user, as its holder sees it.
    const s = await apiSession(use.rig.consoleUrl)
    const link = await adminRequest(`${use.rig.consoleUrl}api/users/link`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body: { app: '', profile: 'partner', user: USER } })
    const holder = await browser.context.newPage()
    holder.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
    })
    await holder.goto((JSON.parse(link.text) as { url: string }).url)
    expect(await holder.evaluate(() => document.body.innerText)).toContain(USER)
    for (const p of [operator, holder]) expect(await p.evaluate(() => window.__xss)).toBeUndefined()
    await holder.close()
    expect(cspViolations).toEqual([])
    // No HTML sink takes a string in the console (Trusted Types with no policy); the pages never use one.
    const sink = await operator.evaluate((html) => {
      const d = document as unknown as { body: { insertAdjacentHTML(where: string, html: string): void } }
      try {
        d.body.insertAdjacentHTML('beforeend', html)
        return 'parsed'
      } catch (e) {
        return (e as Error).name
      }
    }, XSS('sink'))
    expect(sink).toBe('TypeError')
  })

  it('the session cookie\'s flags; every console response has the CSP, and pages and data are never stored', async () => {
    const [cookie] = (await browser.context.cookies(use.rig.consoleUrl)).filter((c) => c.name === 'mtls_gateway_console')
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console/', secure: false })
    expect((cookie?.expires ?? 0) * 1000 - Date.now()).toBeLessThanOrEqual(8 * 3600_000)
    for (const name of ['overview', 'endpoints', 'profiles', 'users', 'draft']) {
      await operator.goto(`${use.rig.consoleUrl}#${name}`)
      await operator.reload()
      await operator.waitForSelector('#nav:not([hidden])')
    }
    const seen = await Promise.all(consoleResponses.map(async (r) => ({ url: r.url(), type: (await r.allHeaders())['content-type'] ?? '', headers: await r.allHeaders() })))
    expect(seen.filter((r) => r.headers['content-security-policy'] !== CSP || r.headers['x-frame-options'] !== 'DENY').map((r) => r.url)).toEqual([])
    const data = seen.filter((r) => /json|html/.test(r.type))
    expect(data.length).toBeGreaterThan(10)
    expect(data.filter((r) => r.headers['cache-control'] !== 'no-store').map((r) => r.url)).toEqual([])
  })
})
