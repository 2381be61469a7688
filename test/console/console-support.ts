/**
 * Shared by the console tests: a gateway with the admin listener and console on (token
 * from `${env:}`), reaching the real oauthlib provider over mTLS with three profiles
 * (per-user "partner", "partner-wrong" with a wrong consumer secret, "tenanted" with
 * tenancy); headless Chromium with a fresh profile; axe-core run inside the page; and a
 * node-side HTTP client that carries the browser's session cookie.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'
import { gatewayYaml, newSealKey, startDanceProvider, type DanceProvider } from '../oauth1-dance/dance-support.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { assertChromium, CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { adminRequest, type Reply } from '../support/admin-request.js'
import { createTestPki, type TestPki } from '../support/pki.js'

export const CONSOLE_TOKEN = 'console-operator-token-5b1e9d0c7a'
export const WRONG_SECRET = 'wrong-consumer-secret-q7c2'
export const SEAL_KEY = newSealKey()
const TOKEN_ENV = 'MTLS_GATEWAY_TEST_CONSOLE_TOKEN'

export interface ConsoleRig {
  pki: TestPki
  provider: DanceProvider
  dir: string
  ops: OpsGateway
  /** `http://127.0.0.1:<admin port>/console/` */
  consoleUrl: string
  close(): Promise<void>
}

/** The gateway YAML of the rig (also the starting point of drafts). */
export function rigYaml(pki: TestPki, provider: DanceProvider, dir: string): string {
  const api = `https://api.partner.test:${provider.apiPort}`
  const extra = (name: string, secret: string, more = ''): string => `  - name: ${name}
    provider: Partner Bank
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: "${secret}"
    requestTokenUrl: ${api}/request_token
    accessTokenUrl: ${api}/access_token
    authorizeUrl: ${provider.browserUrl}/authorize
${more}`
  const base = gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, sealKeys: [{ id: 'k1', key: SEAL_KEY }] })
  return base.replace('admin:\n  enabled: false\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: "\${env:${TOKEN_ENV}}"\n`) +
    extra('partner-wrong', WRONG_SECRET) + extra('tenanted', 'dance-consumer-secret-7f3a', '    tenancy: true\n')
}

/** Provider, PKI and gateway with the console on. */
export async function startConsoleRig(): Promise<ConsoleRig> {
  process.env[TOKEN_ENV] = CONSOLE_TOKEN
  const pki = await createTestPki()
  const provider = await startDanceProvider(pki)
  const dir = mkdtempSync(join(tmpdir(), 'console-'))
  const ops = await startOpsGateway(dir, rigYaml(pki, provider, dir))
  return {
    pki, provider, dir, ops,
    consoleUrl: `${ops.adminUrl}/console/`,
    async close() {
      await ops.gw.close()
      await provider.close()
      pki.cleanup()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A console gateway whose profiles reach no provider (their ports only fill the URLs), with a console API session. */
export interface ProviderlessConsole {
  pki: TestPki
  dir: string
  ops: OpsGateway
  /** The console API session (for requests the helpers below cannot make, such as raw bytes). */
  session: { cookie: string; csrf: string; origin: string }
  post(name: string, body: unknown): Promise<Reply>
  get(name: string): Promise<Reply>
  close(): Promise<void>
}

/** Starts a ProviderlessConsole (the rig's YAML and `moreYaml`, a real SQLite file in a fresh directory named after `prefix`). */
export async function startProviderlessConsole(prefix: string, moreYaml = ''): Promise<ProviderlessConsole> {
  process.env[TOKEN_ENV] = CONSOLE_TOKEN
  const noProvider = { apiPort: 9, browserPort: 9, browserUrl: 'https://127.0.0.1:9' } as DanceProvider
  const pki = await createTestPki()
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const ops = await startOpsGateway(dir, rigYaml(pki, noProvider, dir) + moreYaml)
  const s = await apiSession(`${ops.adminUrl}/console/`)
  return {
    pki, dir, ops, session: s,
    post: (name, body) => adminRequest(`${ops.adminUrl}/console/api/${name}`, { method: 'POST', cookie: s.cookie, origin: s.origin, csrf: s.csrf, body }),
    get: (name) => adminRequest(`${ops.adminUrl}/console/api/${name}`, { cookie: s.cookie, origin: s.origin }),
    async close() {
      await ops.gw.close()
      pki.cleanup()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Starts the rig before the file's tests and closes it after; read `.rig` inside a test. */
export function useConsoleRig(): { readonly rig: ConsoleRig } {
  let rig: ConsoleRig | undefined
  beforeAll(async () => {
    rig = await startConsoleRig()
  }) // vitest.config.ts's hookTimeout, above START_DEADLINE_MS (the Python provider starts in it)
  afterAll(async () => {
    await rig?.close()
  })
  return {
    get rig() {
      if (!rig) throw new Error('the console rig did not start')
      return rig
    },
  }
}

/** Headless Debian Chromium with a fresh profile directory. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'))
  // The provider's pages use the throw-away test PKI, which this browser does not know.
  assertChromium()
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, timeout: START_DEADLINE_MS })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Signs in through the login form and waits for the overview. */
export async function signIn(page: Page, consoleUrl: string, token = CONSOLE_TOKEN): Promise<void> {
  await page.goto(consoleUrl)
  await page.fill('#token', token)
  await page.click('#login button[type=submit]')
  await page.waitForSelector('#nav:not([hidden])')
}

// The page's global, for the function evaluated in the browser (tsc has no lib "dom" here); typed where used.
declare const window: unknown

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE)
  return page.evaluate(async () => {
    const w = window as unknown as { axe: { run(): Promise<{ passes: unknown[]; violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }
    const r = await w.axe.run()
    // An engine that checked nothing would pass anything.
    if (r.passes.length === 0) throw new Error('axe-core ran no check')
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }))
  })
}

export { adminRequest, type Reply }

/** Signs in from node: the cookie header and the CSRF token. */
export async function apiSession(consoleUrl: string): Promise<{ cookie: string; csrf: string; origin: string }> {
  const origin = new URL(consoleUrl).origin
  const r = await adminRequest(`${consoleUrl}api/login`, { method: 'POST', origin, body: { token: CONSOLE_TOKEN } })
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`)
  const set = r.headers['set-cookie']
  const cookie = (Array.isArray(set) ? set[0]! : set ?? '').split(';')[0] as string
  return { cookie, csrf: (JSON.parse(r.text) as { csrf: string }).csrf, origin }
}
