/**
 * Shared by the dance tests: the oauthlib provider on two ports (API with a required
 * client certificate, browser page without), a gateway config that reaches it over mTLS,
 * and small HTTP helpers that play the user's browser: the gateway's link page, its button
 * (keeping the cookie it sets, as a browser does), the provider's page and approval, and the
 * callback with that cookie.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, fetch } from 'undici'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { send, type Reply } from '../support/gateway.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import type { Store } from '../../src/store/index.js'
import { takeChild } from '../support/signals.js'

const SCRIPT = fileURLToPath(new URL('./provider_two_ports.py', import.meta.url))

/** The consumer the provider knows (oauthlib wants keys of 20–30 characters). */
export const CONSUMER = { key: 'dancegatewayconsumer01', secret: 'dance-consumer-secret-7f3a' }
export const ADMIN_TOKEN = 'admin-token-for-dance-tests-0123456789'

export interface ProviderState {
  request_tokens: { token: string; secret: string; verifier: string | null }[]
  access_tokens: { client_key: string; token: string; secret: string }[]
  /** Token-URL calls as verified; provider_oauth10.py adds the oauth_* names a request-token or access-token call carried. */
  token_calls: { endpoint: string; uri: string; status: number; oauth_params?: string[] }[]
}

export interface DanceProvider {
  /** The provider's process (to pause it with SIGSTOP mid-call). */
  pid: number
  apiPort: number
  browserPort: number
  /** `https://127.0.0.1:<browserPort>`: the authorize page, reachable without a client certificate. */
  browserUrl: string
  state(): Promise<ProviderState>
  /** Submits the provider's approve/deny form as the user would; returns the redirect target. */
  decide(requestToken: string, decision: 'approve' | 'deny'): Promise<string>
  /** GETs a page of the provider's browser port (what a browser sent there shows). */
  open(url: string): Promise<{ status: number; text: string }>
  stderr(): string
  close(): Promise<void>
}

/** Spawns the provider with the PKI's server certificate, requiring client certificates on the API port; `extra`: more of its config (oauth1_provider.py). */
export async function startDanceProvider(pki: TestPki, extra: Record<string, unknown> = {}): Promise<DanceProvider> {
  const dir = await mkdtemp(join(tmpdir(), 'dance-provider-'))
  const ca = pki.write('provider-client-ca.crt', pki.root.pem + pki.inter.pem)
  const config = {
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca, require_client_cert: true },
    ...extra,
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  const child = spawn('/usr/bin/python3', [SCRIPT, join(dir, 'config.json')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ports = await new Promise<{ port: number; browser_port: number }>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`provider did not start in ${START_DEADLINE_MS} ms:\n${stderr}`)), START_DEADLINE_MS)
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line === undefined) return
      clearTimeout(timer)
      resolve(JSON.parse(line) as { port: number; browser_port: number })
    })
    child.once('exit', (code) => reject(new Error(`provider exited ${code}:\n${stderr}`)))
  })
  const browserUrl = `https://127.0.0.1:${ports.browser_port}`
  const agent = trustingAgent(pki)
  let closing: Promise<void> | undefined
  return {
    pid: takeChild(child),
    apiPort: ports.port,
    browserPort: ports.browser_port,
    browserUrl,
    async state() {
      const res = await fetch(`${browserUrl}/_state`, { dispatcher: agent })
      return (await res.json()) as ProviderState
    },
    async decide(requestToken, decision) {
      const res = await fetch(`${browserUrl}/authorize`, {
        method: 'POST',
        dispatcher: agent,
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ oauth_token: requestToken, decision }).toString(),
      })
      await res.arrayBuffer()
      if (res.status !== 302) throw new Error(`provider answered ${res.status} to the ${decision} form:\n${stderr}`)
      return res.headers.get('location') as string
    },
    async open(url) {
      if (!url.startsWith(`${browserUrl}/`)) throw new Error(`${url} is not on the provider's browser port`)
      const res = await fetch(url, { dispatcher: agent })
      return { status: res.status, text: await res.text() }
    },
    stderr: () => stderr,
    // Once, however often called: a test may stop the provider before the file's hooks do.
    close: () => (closing ??= (async () => {
      await agent.close()
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    })()),
  }
}

/** An undici agent trusting the test PKI (the provider's browser port). */
export function trustingAgent(pki: TestPki): Agent {
  return new Agent({ connect: { ca: pki.root.pem } })
}

export type StoreYaml = { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string; keyPrefix: string }

export interface GatewayYamlOptions {
  pki: TestPki
  provider: DanceProvider
  store: StoreYaml
  /** Default: one fresh key "k1". */
  sealKeys?: { id: string; key: string }[]
  activeKey?: string
  consumerSecret?: string
  /** Extra YAML lines for the profile (indented 4 spaces). */
  profileExtra?: string
  /** A whole `callers:` block replacing the default (admin token only, callers optional). */
  callers?: string
  /** Endpoint entries after `partner` (indented 2 spaces, each line ending in a newline). */
  extraEndpoints?: string
}

/** A fresh 32-byte sealing key, hex. */
export const newSealKey = (): string => randomBytes(32).toString('hex')

/** A gateway config: endpoint "partner" over mTLS to the provider's API port, per-user profile "partner". */
export function gatewayYaml(o: GatewayYamlOptions): string {
  const api = `https://api.partner.test:${o.provider.apiPort}`
  const store = o.store.kind === 'sqlite' ? `  kind: sqlite\n  file: ${o.store.file}` : `  kind: redis\n  url: ${o.store.url}\n  keyPrefix: "${o.store.keyPrefix}"`
  return `listen:
  host: 127.0.0.1
  port: 0
admin:
  enabled: false
store:
${store}
  sealKeys:
${(o.sealKeys ?? [{ id: 'k1', key: newSealKey() }]).map((k) => `    - id: ${k.id}\n      key: "${k.key}"`).join('\n')}
${o.activeKey !== undefined ? `  activeKey: ${o.activeKey}\n` : ''}${o.callers ?? `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}`}
endpoints:
  - name: partner
    url: ${api}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: partner
    tls:
      cert: ${o.pki.file('client.crt')}
      key: ${o.pki.file('client.key')}
      intermediates: ${o.pki.file('inter.crt')}
      roots: ${o.pki.file('root.crt')}
${o.extraEndpoints ?? ''}profiles:
  - name: partner
    provider: Partner Bank
    consumerKey: ${CONSUMER.key}
    consumerSecret: "${o.consumerSecret ?? CONSUMER.secret}"
    requestTokenUrl: ${api}/request_token
    accessTokenUrl: ${api}/access_token
    authorizeUrl: ${o.provider.browserUrl}/authorize
    token:
      mode: per_user
${o.profileExtra ?? ''}`
}

/** Every raw value in a store (what SQLite rows or Redis keys hold). */
export async function rawValues(store: Store): Promise<{ key: string; value: string }[]> {
  const out: { key: string; value: string }[] = []
  for (const key of await store.keys('')) out.push({ key, value: (await store.get(key)) ?? '' })
  return out
}

/** The request token inside a provider authorize URL. */
export function requestTokenOf(authorizeUrl: string): string {
  const t = new URL(authorizeUrl).searchParams.get('oauth_token')
  if (!t) throw new Error(`no oauth_token in ${authorizeUrl}`)
  return t
}

/** Path + query of a URL (to replay it against another gateway). */
export function pathOf(url: string): string {
  const u = new URL(url)
  return u.pathname + u.search
}

/** Where each of a helper's requests goes: a gateway URL, or a function giving the next one (replicas alternate). */
export type GatewayTarget = string | (() => string)
const targetFn = (t: GatewayTarget): (() => string) => (typeof t === 'string' ? () => t : t)

/** A link's page (GET, all a link preview does) and the form it holds. */
async function openLink(at: () => string, link: string): Promise<{ page: Reply; csrf: string; action: string }> {
  const page = await send(at(), pathOf(link))
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1]
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1]
  if (page.status !== 200 || csrf === undefined || action === undefined) throw new Error(`link page: HTTP ${page.status} ${page.text.slice(0, 200)}`)
  return { page, csrf, action: action.replaceAll('&amp;', '&') }
}

function postForm(at: () => string, action: string, csrf: string, fields: Record<string, string>): Promise<Reply> {
  const form = new URLSearchParams({ csrf, ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [`field.${k}`, v])) })
  return send(at(), action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() })
}

/**
 * Opens an authorize link the way a user does: its page (GET, all a link preview does),
 * then the page's button (a form POST with the page's CSRF token). Resolves to the POST's reply.
 */
export async function clickLink(gatewayUrl: GatewayTarget, link: string, fields: Record<string, string> = {}): Promise<Reply> {
  // A function gives the next request's gateway: the GET and the POST may land on different replicas.
  const at = targetFn(gatewayUrl)
  const { csrf, action } = await openLink(at, link)
  return postForm(at, action, csrf, fields)
}

/**
 * A provider's token URLs over real TLS (the endpoint's client certificate required), each request
 * answered by `answer` once its body is read; `fake` is its DanceProvider, whose page (not visited:
 * the test sends the browser back to the callback itself) offers any request token.
 */
export async function startTokenProvider(pki: TestPki, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: RunningServer; fake: DanceProvider }> {
  const server = await startMtlsServer({
    cert: pki.file('server-chain.crt'),
    key: pki.file('server.key'),
    ca: pki.file('root.crt'),
    handler: (req: IncomingMessage, res: ServerResponse) => {
      req.resume()
      req.on('end', () => answer(req, res))
    },
  })
  const fake = { apiPort: server.port, browserUrl: `https://127.0.0.1:${server.port}`, open: async (url: string) => ({ status: 200, text: `value="${new URL(url).searchParams.get('oauth_token')}"` }) } as DanceProvider
  return { server, fake }
}

/** A cookie the gateway set. */
export interface SetCookie {
  name: string
  value: string
  /** Attributes, names lower-cased; a flag's value is ''. */
  attributes: Record<string, string>
}

/** The cookies a reply sets. */
export function setCookiesOf(reply: Reply): SetCookie[] {
  const raw = reply.headers['set-cookie']
  return (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map((line) => {
    const [pair = '', ...attrs] = line.split(';').map((p) => p.trim())
    const eq = pair.indexOf('=')
    const attributes = Object.fromEntries(attrs.map((a) => [a.split('=')[0]!.toLowerCase(), a.includes('=') ? a.slice(a.indexOf('=') + 1) : '']))
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes }
  })
}

/** A Cookie request header carrying `cookies`. */
export const cookieHeader = (...cookies: Pick<SetCookie, 'name' | 'value'>[]): string => cookies.map((c) => `${c.name}=${c.value}`).join('; ')

/** The Cookie header a browser sends to `url` with `cookie` (RFC 6265 §5.4: path-match, Secure only over https). */
export function cookieFor(cookie: SetCookie, url: string): Record<string, string> {
  const u = new URL(url)
  const path = cookie.attributes.path ?? '/'
  const pathMatches = u.pathname === path || (u.pathname.startsWith(path) && (path.endsWith('/') || u.pathname[path.length] === '/'))
  const sent = pathMatches && (!('secure' in cookie.attributes) || u.protocol === 'https:') && cookie.attributes['max-age'] !== '0'
  return sent ? { cookie: cookieHeader(cookie) } : {}
}

/** The browser after clicking a link page's button: sent to the provider, holding the dance's cookie. */
export interface StartedDance {
  /** The link page (GET). */
  page: Reply
  /** The button's POST: 303 to the provider, setting the cookie. */
  click: Reply
  providerUrl: string
  requestToken: string
  cookie: SetCookie
}

/** A finished dance: the provider's redirect back and the callback's page, reached with the cookie. */
export interface BrowserDance extends StartedDance {
  callbackUrl: string
  done: Reply
  /** True when the callback's reply removed the cookie. */
  cleared: boolean
}

export interface BrowserOptions {
  provider: DanceProvider
  /** The gateway each request goes to; default: the link's own. */
  gateway?: GatewayTarget
  /** What the user types into the link page (a PIN). */
  fields?: Record<string, string>
}

/**
 * The user's browser from a gateway link to the provider's approval page: the link page,
 * its button (which must redirect to the provider and set the dance's cookie), then the
 * provider's page, which must offer the request token's approval.
 */
export async function startInBrowser(link: string, o: BrowserOptions): Promise<StartedDance> {
  const at = targetFn(o.gateway ?? new URL(link).origin)
  const { page, csrf, action } = await openLink(at, link)
  const click = await postForm(at, action, csrf, o.fields ?? {})
  const providerUrl = String(click.headers.location)
  const cookie = setCookiesOf(click).find((c) => /^(__Host-)?mtls_gw_dance_/.test(c.name))
  if (click.status !== 303 || cookie === undefined || !providerUrl.startsWith(`${o.provider.browserUrl}/`)) {
    const said = /<p>([^<]*)<\/p>/.exec(click.text)?.[1] ?? click.text.slice(0, 200)
    throw new Error(`link button: HTTP ${click.status} to ${providerUrl}, set-cookie ${JSON.stringify(click.headers['set-cookie'])}: ${said}`)
  }
  const requestToken = requestTokenOf(providerUrl)
  const approval = await o.provider.open(providerUrl)
  if (approval.status !== 200 || !approval.text.includes(`value="${requestToken}"`)) throw new Error(`provider page: HTTP ${approval.status} ${approval.text.slice(0, 200)}`)
  return { page, click, providerUrl, requestToken, cookie }
}

/** The user decides at the provider, and the browser follows the redirect back to the gateway with its cookie. */
export async function finishInBrowser(started: StartedDance, o: BrowserOptions & { decision?: 'approve' | 'deny' }): Promise<BrowserDance> {
  const callbackUrl = await o.provider.decide(started.requestToken, o.decision ?? 'approve')
  const done = await send(targetFn(o.gateway ?? new URL(callbackUrl).origin)(), pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
  const cleared = setCookiesOf(done).some((c) => c.name === started.cookie.name && c.attributes['max-age'] === '0')
  return { ...started, callbackUrl, done, cleared }
}

/** A whole dance in the user's browser from a gateway link: page, button, provider, decision, callback. */
export async function danceInBrowser(link: string, o: BrowserOptions & { decision?: 'approve' | 'deny' }): Promise<BrowserDance> {
  return finishInBrowser(await startInBrowser(link, o), o)
}

/** The admin token as a request header. */
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` }

/**
 * A credentialed start (`query` like `user=alice`; the admin token unless `headers` say
 * otherwise): the one-time gateway link it answers with, never the provider's URL. The admin
 * token names whose user with app=; unless `query` does, `app=` (empty): callers without an
 * app, the X-Gateway-User callers of these tests.
 */
export async function authorizeLink(gatewayUrl: string, query: string, headers: Record<string, string> = ADMIN): Promise<string> {
  const app = headers === ADMIN && !/(^|&)app=/.test(query) ? ['app='] : []
  const params = [query, ...app, 'format=json'].filter((p) => p !== '').join('&')
  const start = await send(gatewayUrl, `/gateway/oauth1/partner/authorize?${params}`, { headers })
  const link = start.status === 200 ? start.json<{ authorizeUrl?: string }>().authorizeUrl : undefined
  if (link === undefined || !new URL(link).pathname.endsWith('/gateway/oauth1/partner/authorize') || !/^\?link=[\w-]+$/.test(new URL(link).search)) {
    throw new Error(`credentialed start: HTTP ${start.status} ${start.text.slice(0, 200)}`)
  }
  return link
}

/** A user's whole dance from a credentialed start, approved; throws unless the callback says complete. */
export async function authorizeUser(gatewayUrl: string, provider: DanceProvider, query: string, headers?: Record<string, string>): Promise<BrowserDance> {
  const dance = await danceInBrowser(await authorizeLink(gatewayUrl, query, headers), { provider })
  if (dance.done.status !== 200 || !dance.done.text.includes('Authorization complete')) throw new Error(`callback: HTTP ${dance.done.status} ${dance.done.text.slice(0, 300)}`)
  return dance
}

/** An endpoint's `tls:` block (indented for an `endpoints[]` item) with the PKI's `<client>.crt`/`.key`, and an optional serverName and pins. */
export function endpointTlsYaml(pki: TestPki, client: string, o: { serverName?: string; pins?: string[] } = {}): string {
  return `
    tls:
      cert: ${pki.file(`${client}.crt`)}
      key: ${pki.file(`${client}.key`)}
      intermediates: ${pki.file('inter.crt')}
      roots: ${pki.file('root.crt')}
${o.serverName ? `      serverName: ${o.serverName}\n` : ''}${o.pins ? `      pins: ["${o.pins.join('", "')}"]\n` : ''}`
}
