/**
 * The dance's refusal pages carry their reason in the access line, so the ones anyone holding a
 * link (or no link) can cause are capped by logging.callerFaults like any client's 4xx: an unknown
 * or used link, a callback for an unknown authorization, a denial at the provider, and the browser
 * binding's refusals (oauth_browser_mismatch: a callback without the browser's cookie, a link form
 * posted without its CSRF token), which anyone holding a link or a request token can forge at
 * will: the first lines, then a summary naming the address. The link click the provider cannot
 * serve stays a 502 line at warn, each one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { accessLinesWhere, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { authorizeLink, clickLink, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

const BURST = 2
/** Refusals of each kind: more than the burst. */
const FLOOD = 6
/** Dances started at the provider, to be refused at the callback without their cookie. */
const STARTED = 4

let pki: TestPki
let provider: DanceProvider
let g: OpsGateway
let dir: string

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'refusal-page-lines-'))
  const yaml = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') } }).replace('admin:\n  enabled: false\n', '')
  g = await startOpsGateway(dir, `${yaml}logging:\n  callerFaults: { burst: ${BURST}, interval: 10m }\n`, { watch: false })
}, 5 * 60_000)

afterAll(async () => {
  await g?.gw.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const summaryOf = (reason: string): Record<string, unknown>[] =>
  g.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => typeof e.msg === 'string' && e.msg.startsWith('suppressed ') && e.reason === reason)

describe('the dance\'s refusal pages in the access log', () => {
  it('floods of client-caused refusals: each page with its code, at most the burst of lines per reason at info, a summary of the rest; the provider\'s 502s all at warn', async () => {
    const statuses: number[] = []
    const page = async (path: string, headers: Record<string, string> = {}): Promise<void> => {
      const r = await send(g.gw.url, path, { headers })
      expect(r.headers['content-type']).toMatch(/^text\/html/)
      expect(r.text).toContain(`<code>${r.status}</code>`)
      statuses.push(r.status)
    }
    for (let i = 0; i < FLOOD; i++) await page(`/gateway/oauth1/partner/authorize?link=madeuplink${i}`)
    for (let i = 0; i < FLOOD; i++) await page(`/gateway/oauth1/callback?oauth_token=madeuptoken${i}&oauth_verifier=v`)
    for (let i = 0; i < FLOOD; i++) await page('/gateway/oauth1/callback')
    // Forged link forms first (a flood from one link's holder), then the approvals without their cookie.
    const forgedAt = pathOf(await authorizeLink(g.gw.url, 'user=forged'))
    for (let i = 0; i < FLOOD; i++) {
      const r = await send(g.gw.url, forgedAt, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=forged${i}` })
      expect(r.text).toContain('<code>403</code>')
      statuses.push(r.status)
    }
    for (let i = 0; i < STARTED; i++) {
      const started = await startInBrowser(await authorizeLink(g.gw.url, `user=nocookie${i}`), { provider })
      await page(pathOf(await provider.decide(started.requestToken, 'approve')))
    }
    for (let i = 0; i < STARTED; i++) {
      const started = await startInBrowser(await authorizeLink(g.gw.url, `user=denied${i}`), { provider })
      await page(pathOf(await provider.decide(started.requestToken, 'deny')), { cookie: `${started.cookie.name}=${started.cookie.value}` })
    }
    // The provider down at the link click: a 502 page each time, the operator's to see.
    const links = await Promise.all(Array.from({ length: 3 }, (_, i) => authorizeLink(g.gw.url, `user=down${i}`)))
    await provider.close()
    const down = await Promise.all(links.map((l) => clickLink(g.gw.url, l)))
    expect(down.map((r) => [r.status, r.text.includes('<code>502</code>')])).toEqual(Array(3).fill([502, true]))
    expect(statuses).toEqual([...Array(2 * FLOOD).fill(400), ...Array(FLOOD).fill(400), ...Array(FLOOD + 2 * STARTED).fill(403)])
    // Each line is written once its request finished on the gateway's side, which can be after its answer was read.
    for (const reason of ['oauth_authorization_unknown', 'bad_request', 'oauth_access_denied', 'oauth_browser_mismatch']) await accessLinesWhere(g, (e) => e.reason === reason, BURST, `the first ${BURST} lines of ${reason}`)
    await accessLinesWhere(g, (e) => e.status === 502, 3, 'the three 502s\' lines')
    await g.gw.close()
    const refusals = g.access().filter((e) => typeof e.status === 'number' && e.status >= 400)
    // Every refusal's line names its reason.
    expect(refusals.filter((e) => e.reason === undefined)).toEqual([])
    const byReason = (reason: string): Record<string, unknown>[] => refusals.filter((e) => e.reason === reason)
    const capped = { oauth_authorization_unknown: 2 * FLOOD, bad_request: FLOOD, oauth_access_denied: STARTED, oauth_browser_mismatch: FLOOD + STARTED }
    for (const [reason, sent] of Object.entries(capped)) {
      expect(byReason(reason).map((e) => e.level), reason).toEqual(Array(BURST).fill('info'))
      expect(summaryOf(reason).map((s) => s.suppressed), reason).toEqual([sent - BURST])
    }
    // The forged forms came first: their first lines are written whole, the rest (the cookie-less approvals too) summed up with the address.
    expect(byReason('oauth_browser_mismatch').map((e) => [e.status, e.method])).toEqual(Array(BURST).fill([403, 'POST']))
    expect(summaryOf('oauth_browser_mismatch').map((s) => s.clients)).toEqual([{ '127.0.0.1': FLOOD + STARTED - BURST }])
    const failed = refusals.filter((e) => e.status === 502)
    expect(failed.map((e) => e.level)).toEqual(Array(3).fill('warn'))
    for (const e of failed) expect(String(e.reason)).toMatch(/^(oauth_provider_failed|upstream_connect_(refused|reset))$/)
  }, 5 * 60_000)
})
