/**
 * A compressed request body (Content-Encoding) is refused where the gateway judges the body:
 * form bodies beside query or payload fields, JSON bodies beside payload or query fields, and
 * OAuth-signed form bodies. The gateway reads the
 * compressed bytes, so it neither sees nor removes a caller's same-name parameter there, and a
 * payload field appended after a deflate stream is data a zlib reader stops before — while backends
 * that inflate request bodies (Express's body-parser does by default, ASP.NET Core's request
 * decompression, Apache's DEFLATE input filter) read the caller's parameters. Modelled here by a
 * backend that inflates by Content-Encoding, as body-parser does.
 */
import { deflateSync, gzipSync, createGunzip, createInflate } from 'node:zlib'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'

let g: AcctFieldGateway

/** What body-parser's urlencoded() does: inflate by Content-Encoding, then parse the form. */
function inflatingBackend(req: IncomingMessage, res: ServerResponse): void {
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase()
  const stream = enc === 'gzip' ? req.pipe(createGunzip()) : enc === 'deflate' ? req.pipe(createInflate()) : req
  const chunks: Buffer[] = []
  const reply = (body: unknown): void => {
    const text = JSON.stringify(body)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  stream.on('data', (c: Buffer) => chunks.push(c))
  stream.on('error', (e: Error) => reply({ error: e.message }))
  stream.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('latin1'))
    const query = new URL(req.url ?? '/', 'https://x').searchParams
    // A merging binder (PHP's $_REQUEST with request_order=GP, ASP.NET's form-before-query): the body wins.
    reply({ bodyAcct: form.getAll('acct'), queryAcct: query.getAll('acct'), merged: form.get('acct') ?? query.get('acct') })
  })
}

const bearer = (): Promise<string> => g.bearer()

beforeAll(async () => {
  g = await startAcctFieldGateway(inflatingBackend)
})

afterAll(async () => {
  await g?.close()
})

const FORM = 'application/x-www-form-urlencoded'

describe('compressed request bodies where fields apply', () => {
  it.each([
    ['payload field, deflate', 'payload', 'deflate', deflateSync('acct=victim')],
    ['query field, gzip', 'query', 'gzip', gzipSync('acct=victim')],
    ['query field, deflate', 'query', 'deflate', deflateSync('acct=victim')],
    ['payload field, gzip, upper case', 'payload', 'GZIP', gzipSync('acct=victim')],
  ])('%s: refused with 400, nothing sent upstream', async (_name, endpoint, encoding, body) => {
    const r = await send(g.gw.url, `/proxy/${endpoint}/x`, { method: 'POST', body, headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': FORM, 'content-encoding': encoding } })
    // Without the refusal the backend binds the caller's acct ("victim"), not the claim's ("42").
    expect(r.status, r.text).toBe(400)
    expect(r.json()).toEqual({ errors: [{ msg: expect.stringMatching(/Content-Encoding/), code: 400 }] })
  })

  it('payload field in a compressed JSON body: refused with 400 naming the encoding, not "not valid JSON"', async () => {
    const r = await send(g.gw.url, '/proxy/payload/x', { method: 'POST', body: gzipSync('{"acct":"victim"}'), headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect(r.status, r.text).toBe(400)
    expect(r.text).toMatch(/a JSON body with Content-Encoding/)
  })

  it('uncompressed form bodies and identity still pass, with the gateway\'s value', async () => {
    for (const headers of [{ 'content-type': FORM }, { 'content-type': FORM, 'content-encoding': 'identity' }] as Record<string, string>[]) {
      const r = await send(g.gw.url, '/proxy/payload/x', { method: 'POST', body: 'acct=victim&x=1', headers: { 'proxy-authorization': `Bearer ${await bearer()}`, ...headers } })
      expect(r.status, r.text).toBe(200)
      expect(r.json<{ merged: string }>().merged).toBe('42')
    }
  })

  it('a compressed JSON body beside a query field is refused (Laravel reads its keys over the query); a compressed body no backend merges passes', async () => {
    const json = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: gzipSync('{"acct":"victim"}'), headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect(json.status, json.text).toBe(400)
    expect(json.json()).toEqual({ errors: [{ msg: expect.stringMatching(/sets query fields, and the request sends a JSON body with Content-Encoding "gzip"/), code: 400 }] })
    const r = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: gzipSync('{}'), headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' } })
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ queryAcct: string[] }>().queryAcct).toEqual(['42'])
  })
})
