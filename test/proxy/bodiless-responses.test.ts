/**
 * A 204 or 304 is complete at its head (RFC 9112 §6.3), and a 304 may name the length of the
 * representation it stands for (RFC 9110 §8.6). undici 7 checks such a Content-Length against
 * the body that never comes and destroys the upstream connection; the gateway used to pass that
 * on as a cut response, so the caller got its connection closed with no answer at all — a
 * conditional GET through the gateway failed whenever the backend named the length.
 *
 * Property (real gateway, scripted mTLS backend, raw caller socket): whatever 204/304 head the
 * backend sends (any Content-Length, any bytes after it), the caller gets exactly that status,
 * never the bytes after the head, and its connection goes on to serve the next request — which
 * reaches the backend on a connection the bytes after the head cannot reach.
 */
import 'reflect-metadata'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startScriptedBackend, type ScriptedBackend } from '../support/scripted-backend.js'

let gw: RunningGateway
let backend: ScriptedBackend
let dir: string
/** What the backend answers GET /a (GET /b gets "second"). */
let first = ''

let pki: TestPki | undefined

beforeAll(async () => {
  pki = await createTestPki()
  backend = await startScriptedBackend(pki, (head) => (head.startsWith('GET /a ') ? first : 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'))
  const tls = clientTls(pki)
  dir = mkdtempSync(join(tmpdir(), 'bodiless-'))
  gw = await startTestGateway(dir, `endpoints:\n${endpointYaml('up', backend.port, tls)}`)
})

afterAll(async () => {
  await gw?.close()
  await backend?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

/** Two pipelined requests on one caller connection; the bytes back once both answers are in (or 5 s). */
function twoRequests(): Promise<string> {
  const u = new URL(gw.url)
  return new Promise((resolve) => {
    let out = ''
    const c = connect(Number(u.port), '127.0.0.1', () => c.write('GET /proxy/up/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v1"\r\n\r\nGET /proxy/up/b HTTP/1.1\r\nHost: x\r\n\r\n'))
    const done = (): void => {
      clearTimeout(timer)
      c.destroy()
      resolve(out)
    }
    const timer = setTimeout(done, 5000)
    c.on('data', (d: Buffer) => {
      out += d.toString('latin1')
      if (out.endsWith('second')) done()
    })
    c.on('error', done)
    c.on('close', done)
  })
}

describe('204 and 304 answers from the backend', () => {
  it('reach the caller whole, whatever Content-Length they name, and leave its connection serving (fast-check, 12 runs)', async () => {
    const head = fc.record({
      status: fc.constantFrom('204 No Content', '304 Not Modified'),
      length: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
      after: fc.constantFrom('', 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Poison: 1\r\n\r\npoisoned', 'junk bytes'),
    })
    await fc.assert(
      fc.asyncProperty(head, async ({ status, length, after }) => {
        first = `HTTP/1.1 ${status}\r\nETag: "v1"\r\n${length === undefined ? '' : `Content-Length: ${length}\r\n`}\r\n${after}`
        const out = await twoRequests()
        expect(out.startsWith(`HTTP/1.1 ${status}\r\n`), JSON.stringify(out)).toBe(true)
        expect(out).not.toContain('poisoned')
        expect(out).not.toContain('junk')
        expect(out).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nsecond$/)
      }),
      { seed: 0x204304, numRuns: 12 },
    )
  }, 120_000)
})
