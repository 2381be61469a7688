/**
 * A caller's cookie named like a query or payload field never reaches the backend: PHP without a
 * php.ini (the official container images run so) has no request_order, `$_REQUEST` follows
 * variables_order "EGPCS", and a cookie `acct` wins over the query's and the body's `acct` (checked
 * against php -n: `?acct=42` + `Cookie: acct=victim` gives `$_REQUEST['acct'] === 'victim'`).
 * Modelled by a backend that merges GET, POST, COOKIE in that order. Other cookies pass.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, send, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway

/** PHP's $_REQUEST with variables_order EGPCS: GET, then POST, then COOKIE, later wins. */
function phpRequest(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const request: Record<string, string> = {}
    for (const [k, v] of new URL(req.url ?? '/', 'https://x').searchParams) request[k] = v
    if (/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('latin1'))) request[k] = v
    for (const piece of (req.headers.cookie ?? '').split(';')) {
      const eq = piece.indexOf('=')
      if (eq > 0) request[piece.slice(0, eq).replace(/^ +/, '')] = decodeURIComponent(piece.slice(eq + 1))
    }
    const text = JSON.stringify({ acct: request['acct'], cookie: req.headers.cookie ?? null })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
}

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler: phpRequest })
  const tls = clientTls(pki)
  const ep = (name: string, type: string): string => endpointYaml(name, upstream.port, tls, `    fields:\n      - { type: ${type}, key: acct, value: "gw-42" }\n`)
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${ep('query', 'query')}${ep('payload', 'payload')}${ep('plain', 'header')}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

describe('cookies named like a field', () => {
  it('query field: the caller\'s acct cookie goes (any spelling a parameter reading gives), others stay', async () => {
    const r = await send(gw.url, '/proxy/query/x', { headers: { cookie: 'session=s1; acct=victim;  ACCT=v2; acct[]=v3; theme=dark' } })
    expect(r.status, r.text).toBe(200)
    expect(r.json()).toEqual({ acct: 'gw-42', cookie: 'session=s1; theme=dark' })
  })

  it('payload field in a form body: the same', async () => {
    const r = await send(gw.url, '/proxy/payload/x', { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'acct=victim' } })
    expect(r.status, r.text).toBe(200)
    expect(r.json()).toEqual({ acct: 'gw-42', cookie: null })
  })

  it('an endpoint without query or payload fields leaves cookies alone', async () => {
    const r = await send(gw.url, '/proxy/plain/x', { headers: { cookie: 'acct=mine; session=s1' } })
    expect(r.json()).toEqual({ acct: 'mine', cookie: 'acct=mine; session=s1' })
  })
})
