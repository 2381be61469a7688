/**
 * Shared by the dance tests: the oauthlib provider on two ports (API with a required
 * client certificate, browser page without), a gateway config that reaches it over mTLS,
 * and small HTTP helpers that act as the user's browser.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, fetch } from 'undici'
import type { TestPki } from '../support/pki.js'
import { send, type Reply } from '../support/gateway.js'
import type { Store } from '../../src/store/index.js'

const SCRIPT = fileURLToPath(new URL('./provider_two_ports.py', import.meta.url))

/** The consumer the provider knows (oauthlib wants keys of 20–30 characters). */
export const CONSUMER = { key: 'dancegatewayconsumer01', secret: 'dance-consumer-secret-7f3a' }
export const ADMIN_TOKEN = 'admin-token-for-dance-tests-0123456789'

export interface ProviderState {
  request_tokens: { token: string; secret: string; verifier: string | null }[]
  access_tokens: { client_key: string; token: string; secret: string }[]
}

export interface DanceProvider {
  apiPort: number
  browserPort: number
  /** `https://127.0.0.1:<browserPort>`: the authorize page, reachable without a client certificate. */
  browserUrl: string
  state(): Promise<ProviderState>
  /** Submits the provider's approve/deny form as the user would; returns the redirect target. */
  decide(requestToken: string, decision: 'approve' | 'deny'): Promise<string>
  stderr(): string
  close(): Promise<void>
}

/** Spawns the provider with the PKI's server certificate, requiring client certificates on the API port. */
export async function startDanceProvider(pki: TestPki): Promise<DanceProvider> {
  const dir = await mkdtemp(join(tmpdir(), 'dance-provider-'))
  const ca = pki.write('provider-client-ca.crt', pki.root.pem + pki.inter.pem)
  const config = {
    clients: [{ key: CONSUMER.key, secret: CONSUMER.secret }],
    tls: { cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca, require_client_cert: true },
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  const child = spawn('/usr/bin/python3', [SCRIPT, join(dir, 'config.json')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ports = await new Promise<{ port: number; browser_port: number }>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`provider did not start:\n${stderr}`)), 40_000)
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
  return {
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
    stderr: () => stderr,
    async close() {
      await agent.close()
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
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
profiles:
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

/**
 * Opens an authorize link the way a user does: its page (GET, all a link preview does),
 * then the page's button (a form POST with the page's CSRF token). Resolves to the POST's reply.
 */
export async function clickLink(gatewayUrl: string | (() => string), link: string, fields: Record<string, string> = {}): Promise<Reply> {
  // A function gives the next request's gateway: the GET and the POST may land on different replicas.
  const at = typeof gatewayUrl === 'string' ? () => gatewayUrl : gatewayUrl
  const page = await send(at(), pathOf(link))
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1]
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1]
  if (page.status !== 200 || csrf === undefined || action === undefined) throw new Error(`link page: HTTP ${page.status} ${page.text.slice(0, 200)}`)
  const form = new URLSearchParams({ csrf, ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [`field.${k}`, v])) })
  return send(at(), action.replaceAll('&amp;', '&'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() })
}
