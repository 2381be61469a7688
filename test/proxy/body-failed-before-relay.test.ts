/**
 * A backend whose response body fails in the same write as its head (a head then a malformed
 * chunk, or fewer bytes than its Content-Length and then its close): the failure is known before
 * the gateway has sent the caller anything, so the caller gets the gateway's own 502 (JSON body,
 * its Content-Length) and the access line its reason — not a `200` head followed by a cut
 * connection. A close short of the Content-Length is read after the head (usually after the relay
 * began): a 502 if it came first, else the head and a cut. A failure after bytes went out is still a cut (truthful-outcomes.test.ts), and a
 * HEAD's answer has no body to fail. Every way in: route mode, forward proxy, an intercepted
 * tunnel's inner request. The backend is a raw mTLS socket writing exact bytes, then closing.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { rawClient, rawRoundTrip } from '../support/raw-client.js'
import { closeScriptedRig, startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'
import { openTunnel, rawExchange } from '../support/tunnel.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let backend: ScriptedBackend
let g: OpsGateway
let port: number
let ca: Buffer
/** Backends that sent a chunked head and hold the rest. */
const held: TLSSocket[] = []

/** What the backend writes (in one write, then its close) for a path's last segment. */
const SCRIPTS: Record<string, string> = {
  'bad-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\nxx\r\n',
  'bad-first-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n',
  short: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this',
}

beforeAll(async () => {
  pki = await createTestPki()
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  ca = readFileSync(ica.caCert)
  backend = await startScriptedBackend(pki, (head, s) => {
    const path = head.split(' ')[1] ?? ''
    if (path.endsWith('/held')) return void (s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), held.push(s))
    s.end(SCRIPTS[path.slice(path.lastIndexOf('/') + 1)] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    return undefined
  })
  port = backend.port
  g = await startOpsGateway(pki.dir, `interception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n${endpointYaml('up', port, clientTls(pki))}`)
})

afterAll(async () => {
  await closeScriptedRig({ gw: g?.gw, backend })
  pki?.cleanup()
})

type Way = 'route' | 'forward' | 'connect'
let n = 0

/** The caller's raw answer to `method` of `script` by `way`, and its access line. */
async function ask(way: Way, script: string, method = 'GET'): Promise<{ status: number; head: string; body: string; line: Record<string, unknown> }> {
  const id = `r${n++}-${way}-${script}`
  const authority = `api.partner.test:${port}`
  const common = `x-request-id: ${id}\r\nConnection: close\r\n\r\n`
  let status: number
  let head: string
  let body: string
  if (way === 'connect') {
    const r = await rawExchange(await openTunnel({ gatewayPort: g.gw.port, authority, ca }), `${method} /s/${script} HTTP/1.1\r\nHost: ${authority}\r\n${common}`)
    ;({ status, headers: head, body } = r)
  } else {
    const line = way === 'route' ? `${method} /proxy/up/s/${script} HTTP/1.1\r\nHost: gw` : `${method} http://${authority}/s/${script} HTTP/1.1\r\nHost: ${authority}`
    const r = await rawRoundTrip(g.gw.port, `${line}\r\n${common}`)
    status = r.status
    head = JSON.stringify(r.headers)
    body = r.body.toString('latin1')
    if (status === 502) expect(Number(r.headers['content-length'])).toBe(r.body.length)
  }
  const entry = await eventually(() => g.access().find((e) => e.reqId === id), 10_000, `the access line of ${id}`)
  return { status, head, body, line: entry }
}

const WAYS: readonly Way[] = ['route', 'forward', 'connect']

describe('a response body that failed before anything was sent to the caller', () => {
  it("a malformed chunk in the head's read (after a good one, or first): the gateway's 502 upstream_response_malformed naming it, every way in", async () => {
    const msg = 'endpoint "up": malformed response body, found before status 200 was relayed (HPE_INVALID_CHUNK_SIZE): the chunked body is malformed: a chunk size that is not hexadecimal'
    for (const script of ['bad-chunk', 'bad-first-chunk']) {
      for (const way of WAYS) {
        const r = await ask(way, script)
        expect(r.status, `${way} ${script}: ${r.head} ${r.body}`).toBe(502)
        expect(JSON.parse(r.body), way).toEqual({ errors: [{ msg, code: 502 }] })
        expect(r.line, way).toMatchObject({ reason: 'upstream_response_malformed', status: 502, error: msg })
      }
    }
  })

  it('fewer bytes than the Content-Length, then the close: a 502 upstream_response_truncated if the close came first, else the 200 head and a cut; never a whole-looking body', async () => {
    // The close is read after the head (a read of its own, usually after relayTo): either outcome is truthful.
    for (const way of WAYS) {
      const r = await ask(way, 'short')
      if (r.status === 502) {
        const body = JSON.parse(r.body) as { errors: { msg: string; code: number }[] }
        expect(body.errors[0]?.msg, way).toMatch(/^endpoint "up": response cut short before status 200 was relayed \(/)
        expect(r.line, way).toMatchObject({ reason: 'upstream_response_truncated', status: 502, error: body.errors[0]?.msg })
      } else {
        expect(r.status, `${way}: ${r.head}`).toBe(200)
        expect(r.body.length, way).toBeLessThan(100)
        expect(r.line, way).toMatchObject({ reason: 'upstream_response_truncated', status: 200 })
      }
    }
  })

  it("a HEAD's answer has no body to fail: relayed as the backend's 200", async () => {
    for (const script of ['short', 'bad-chunk']) {
      for (const way of WAYS) {
        const r = await ask(way, script, 'HEAD')
        expect(r.status, `${way} ${script}: ${r.head}`).toBe(200)
        expect(r.line, way).not.toHaveProperty('reason')
      }
    }
  })
})

describe('a response body that fails after its head was sent', () => {
  it('is still a cut connection after the 200 head, never a 502 after it', async () => {
    // The head alone, then (once the caller holds it) a malformed chunk.
    const c = await rawClient(g.gw.port)
    c.socket.write('GET /proxy/up/s/held HTTP/1.1\r\nHost: gw\r\nx-request-id: later\r\n\r\n')
    await new Promise<void>((resolve) => {
      const check = (): void => void (c.received().includes('\r\n\r\n') && resolve())
      c.socket.on('data', check)
      check()
    })
    ;(held.pop() as TLSSocket).end('zz\r\nxx\r\n')
    await c.closed(5000)
    const received = c.received().toString('latin1')
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(received).not.toContain('502')
    expect(await eventually(() => g.access().find((e) => e.reqId === 'later'), 10_000, 'the access line')).toMatchObject({ reason: 'upstream_response_malformed', status: 200 })
  })
})
