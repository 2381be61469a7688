/**
 * A form body in a charset other than UTF-8 or an ASCII one is refused where the gateway judges
 * the body (query or payload fields, OAuth signing): the gateway reads the bytes as ASCII, while
 * ASP.NET Core decodes a form by its Content-Type's charset (UTF-16 included) and binds the form
 * over the query, so a caller's UTF-16 `acct=victim` won over the query field acct={{claims.acct}}.
 * Modelled by a backend that decodes by charset and reads the form over the query.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SignJWT } from 'jose'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/serve.js'
import { send, startTestGateway } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

/** What ASP.NET Core's FormReader does: decode the body by the Content-Type's charset, then parse the form; form over query. */
function charsetBackend(req: IncomingMessage, res: ServerResponse): void {
  const charset = /charset="?([\w-]+)/i.exec(req.headers['content-type'] ?? '')?.[1] ?? 'utf-8'
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const form = new URLSearchParams(new TextDecoder(charset).decode(Buffer.concat(chunks)))
    const query = new URL(req.url ?? '/', 'https://x').searchParams
    const text = JSON.stringify({ bodyAcct: form.getAll('acct'), queryAcct: query.getAll('acct'), merged: form.get('acct') ?? query.get('acct') })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
}

const now = (): number => Math.floor(Date.now() / 1000)
const bearer = (): Promise<string> => new SignJWT({ iss: 'bot', aud: AUD, sub: 'u1', acct: '42', iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: charsetBackend })
  const tls = `    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
  const ep = (name: string, field: string): string => `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    fields:\n      - { type: ${field}, key: acct, value: "{{claims.acct}}" }\n${tls}`
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
store: { kind: sqlite, file: ${join(pki.dir, 'store.db')}, sealKeys: [{ id: k1, key: "${randomBytes(32).toString('base64')}" }] }
callers:
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: ["*"] }
endpoints:
${ep('payload', 'payload')}${ep('query', 'query')}`)
}, 60_000)

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

const FORM = 'application/x-www-form-urlencoded'

describe('form bodies in other charsets', () => {
  it.each([
    ['query field, utf-16', 'query', 'utf-16', Buffer.from('acct=victim', 'utf16le')],
    ['query field, UTF-16BE', 'query', 'UTF-16BE', Buffer.from(Buffer.from('acct=victim', 'utf16le')).swap16()],
    ['payload field, quoted utf-16le', 'payload', '"utf-16le"', Buffer.from('acct=victim', 'utf16le')],
    ['query field, two charsets', 'query', 'utf-8; charset=utf-16', Buffer.from('acct=victim', 'utf16le')],
  ])('%s: refused with 400, nothing the backend binds', async (_name, endpoint, charset, body) => {
    const r = await send(gw.url, `/proxy/${endpoint}/x`, { method: 'POST', body, headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': `${FORM}; charset=${charset}` } })
    expect(r.status, r.text).toBe(400)
    expect(r.text).toMatch(/names a charset the gateway does not read forms in/)
  })

  it.each(['utf-8', 'UTF-8', '"utf-8"', 'us-ascii', 'ISO-8859-1'])('charset=%s passes, with the gateway\'s value', async (charset) => {
    const r = await send(gw.url, '/proxy/query/x', { method: 'POST', body: 'acct=victim&x=1', headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': `${FORM}; charset=${charset}` } })
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ merged: string }>().merged).toBe('42')
  })
})
