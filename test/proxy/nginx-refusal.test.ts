/**
 * nginx's refusal of the client certificate over HTTP (a 400 carrying its built-in page) is a
 * 502 upstream_client_cert_rejected; every other 400 reaches the caller as the backend sent it
 * (review s24 fix-nginx400). One ops gateway, one scripted mTLS backend writing exactly the bytes
 * a case gives it. The real nginx's answers are in test/peers/nginx.test.ts.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { rawClient } from '../support/raw-client.js'
import { startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { eventually, samples, scrape, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let g: OpsGateway
let backend: ScriptedBackend
/** What the backend writes for `GET /s/<key>`. */
const scripts = new Map<string, Buffer>()

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head) => scripts.get((head.split(' ')[1] ?? '/').slice(3)) ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
  const tls = { cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt') }
  g = await startOpsGateway(pki.dir, `endpoints:\n${endpointYaml('up', backend.port, tls)}`)
})

afterAll(async () => {
  await g?.gw.close()
  await backend?.close()
  pki?.cleanup()
})

const TEXTS = ['The SSL certificate error', 'No required SSL certificate was sent'] as const
const PADDING = '<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n'.repeat(6)

/** nginx's page as ngx_http_special_response.c writes it, in the variants its versions and settings give. */
function nginxPage(text: string, bodyTag: string, tail: string, padding: string): string {
  return `<html>\r\n<head><title>400 ${text}</title></head>\r\n${bodyTag}\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>${text}</center>\r\n<hr><center>${tail}</center>\r\n</body>\r\n</html>\r\n${padding}`
}

const exactPage = fc.tuple(fc.constantFrom(...TEXTS), fc.constantFrom('<body>', '<body bgcolor="white">'), fc.constantFrom('nginx', 'nginx/1.22.1', 'nginx/1.18.0 (Ubuntu)', 'openresty/1.21.4.1'), fc.constantFrom('', PADDING))
  .map(([text, tag, tail, padding]) => ({ body: Buffer.from(nginxPage(text, tag, tail, padding), 'latin1'), exact: true, text }))

/** One byte inserted, removed or changed before the tail: never nginx's page any more. */
const nearMiss = fc.tuple(exactPage, fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.integer({ min: 0x20, max: 0x7e }))
  .map(([page, at, op, byte]) => {
    const s = page.body.toString('latin1')
    const i = at % s.indexOf('<hr>')
    const c = String.fromCharCode(byte === s.charCodeAt(i) ? (byte === 0x7e ? 0x20 : byte + 1) : byte)
    const mutated = op === 'insert' ? s.slice(0, i) + c + s.slice(i) : op === 'delete' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + c + s.slice(i + 1)
    return { body: Buffer.from(mutated, 'latin1'), exact: false, text: '' }
  })

const anyBytes = fc.uint8Array({ maxLength: 3000 }).map((b) => ({ body: Buffer.from(b), exact: false, text: '' }))
/** Large: past the few KiB the gateway would ever hold, so never held. */
const large = fc.tuple(exactPage, fc.integer({ min: 2049, max: 200_000 })).map(([p, n]) => ({ body: Buffer.concat([p.body, Buffer.alloc(n - p.body.length + 1, 0x20)]), exact: false, text: '' }))

/** The backend's answer: a 400 with `body`, the content type and framing given, and a marker field. */
function answer(body: Buffer, type: string | undefined, framing: 'length' | 'chunked', coding: boolean): Buffer {
  const fields = [type === undefined ? '' : `Content-Type: ${type}\r\n`, coding ? 'Content-Encoding: br\r\n' : '', 'X-Marker: kept\r\n']
  if (framing === 'length') return Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\n${fields.join('')}Content-Length: ${body.length}\r\n\r\n`), body])
  const chunks = body.length === 0 ? [] : [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]
  return Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\n${fields.join('')}Transfer-Encoding: chunked\r\n\r\n`), ...chunks, Buffer.from('0\r\n\r\n')])
}

describe('a backend\'s 400', () => {
  let refusals = 0

  it('reaches the caller byte-identical with its fields unless it is nginx\'s exact refusal page, which is a 502 (fast-check, 60 runs)', async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: exactPage, weight: 4 }, { arbitrary: nearMiss, weight: 2 }, { arbitrary: anyBytes, weight: 1 }, { arbitrary: large, weight: 1 }),
        fc.constantFrom('text/html', 'text/html; charset=utf-8', 'Text/HTML', 'text/plain', 'application/json', undefined),
        fc.constantFrom('length', 'chunked'),
        fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
        async (page, type, framing, coding) => {
          const key = `k${n++}`
          scripts.set(key, answer(page.body, type, framing, coding))
          const r = await send(g.gw.url, `/proxy/up/s/${key}`)
          const refusal = page.exact && type !== undefined && /^text\/html/i.test(type) && framing === 'length' && !coding
          if (refusal) {
            refusals++
            expect(r.status, r.text).toBe(502)
            expect(r.json()).toEqual({ errors: [{ msg: `endpoint "up": client certificate rejected by the server (nginx: ${page.text})`, code: 502 }] })
            return
          }
          expect(r.status, r.text).toBe(400)
          expect(r.body.equals(page.body)).toBe(true)
          expect(r.headers['x-marker']).toBe('kept')
          expect(r.headers['content-type']).toBe(type)
        },
      ),
      { seed: 0x400, numRuns: 60 },
    )
    expect(refusals).toBeGreaterThan(2)
  }, 120_000)

  it('counts every refusal as a handshake failure under the reason a TLS alert gets, with the reason in the access log', async () => {
    // Counted series only: the endpoint's other reasons exist at 0 from the start.
    const failures = samples(await scrape(g.adminUrl), 'mtls_gateway_upstream_tls_handshake_failures_total').filter((s) => s.value !== 0)
    expect(failures).toEqual([expect.objectContaining({ labels: expect.objectContaining({ endpoint: 'up', reason: 'upstream_client_cert_rejected' }), value: refusals })])
    // Each line is written once its request finished on the gateway's side, which can be after its answer was read.
    const refused = await eventually(() => {
      const lines = g.access().filter((e) => e.reason === 'upstream_client_cert_rejected')
      return lines.length >= refusals && lines
    }, 15_000, `${refusals} access lines of refusals`)
    expect(refused).toHaveLength(refusals)
    expect(refused.every((e) => e.status === 502)).toBe(true)
  })

  it('is not held when streamed or long: the caller gets its first bytes while the backend still sends', async () => {
    const first = '<html><head><title>400 The SSL certificate error</title></head>'
    scripts.set('chunked', Buffer.from(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n${first.length.toString(16)}\r\n${first}\r\n`))
    scripts.set('long', Buffer.from(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n${first}`))
    for (const key of ['chunked', 'long']) {
      const c = await rawClient(g.gw.port)
      c.socket.write(`GET /proxy/up/s/${key} HTTP/1.1\r\nHost: gw\r\n\r\n`)
      const seen = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve(c.received().toString('latin1')), 20_000)
        c.socket.on('data', () => c.received().includes(first) && (clearTimeout(timer), resolve(c.received().toString('latin1'))))
      })
      c.socket.destroy()
      expect(seen, key).toMatch(/^HTTP\/1\.1 400 /)
      expect(seen, key).toContain(first)
    }
  })
})
