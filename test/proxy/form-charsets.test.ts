/**
 * A form body in a charset other than UTF-8 or an ASCII one is refused where the gateway judges
 * the body (query or payload fields, OAuth signing): the gateway reads the bytes as ASCII, while
 * ASP.NET Core decodes a form by its Content-Type's charset (UTF-16 included) and binds the form
 * over the query, so a caller's UTF-16 `acct=victim` won over the query field acct={{claims.acct}}.
 * Modelled by a backend that decodes by charset and reads the form over the query.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'

let g: AcctFieldGateway

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

const bearer = (): Promise<string> => g.bearer()

beforeAll(async () => {
  g = await startAcctFieldGateway(charsetBackend)
})

afterAll(async () => {
  await g?.close()
})

const FORM = 'application/x-www-form-urlencoded'

describe('form bodies in other charsets', () => {
  it.each([
    ['query field, utf-16', 'query', 'utf-16', Buffer.from('acct=victim', 'utf16le')],
    ['query field, UTF-16BE', 'query', 'UTF-16BE', Buffer.from(Buffer.from('acct=victim', 'utf16le')).swap16()],
    ['payload field, quoted utf-16le', 'payload', '"utf-16le"', Buffer.from('acct=victim', 'utf16le')],
    ['query field, two charsets', 'query', 'utf-8; charset=utf-16', Buffer.from('acct=victim', 'utf16le')],
  ])('%s: refused with 400, nothing the backend binds', async (_name, endpoint, charset, body) => {
    const r = await send(g.gw.url, `/proxy/${endpoint}/x`, { method: 'POST', body, headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': `${FORM}; charset=${charset}` } })
    expect(r.status, r.text).toBe(400)
    expect(r.text).toMatch(/names a charset the gateway does not read forms in/)
  })

  it.each(['utf-8', 'UTF-8', '"utf-8"', 'us-ascii', 'ISO-8859-1'])('charset=%s passes, with the gateway\'s value', async (charset) => {
    const r = await send(g.gw.url, '/proxy/query/x', { method: 'POST', body: 'acct=victim&x=1', headers: { 'proxy-authorization': `Bearer ${await bearer()}`, 'content-type': `${FORM}; charset=${charset}` } })
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ merged: string }>().merged).toBe('42')
  })
})
