import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { rawClient } from '../support/raw-client.js'

// `Expect: 100-continue` with the real curl on every way in: `curl -T` of a file, and a
// 2 MiB POST (curl asks for 100-continue above 1 MiB). The gateway answers the expectation
// itself when it needs the body; undici never sees an Expect header.
const run = promisify(execFile)

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let ca: { caCert: string; caKey: string }
let upload: string
let uploadSha: string
let post: string
let postSha: string
const seenExpect: (string | undefined)[] = []

beforeAll(async () => {
  pki = await createTestPki()
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      seenExpect.push(req.headers.expect)
      echo(req, res)
    },
  })
  const tls = clientTls(pki)
  const uploadBytes = randomBytes(300 * 1024)
  const postBytes = randomBytes(2 * 1024 * 1024)
  upload = join(pki.dir, 'upload.bin')
  writeFileSync(upload, uploadBytes)
  post = join(pki.dir, 'post.bin')
  writeFileSync(post, postBytes)
  uploadSha = createHash('sha256').update(uploadBytes).digest('hex')
  postSha = createHash('sha256').update(postBytes).digest('hex')
  gw = await startTestGateway(pki.dir, `interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

async function curl(args: string[]): Promise<{ status: number; reply: EchoReply }> {
  const { stdout } = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args], { maxBuffer: 16 * 1024 * 1024 })
  const cut = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(cut + 1)), reply: JSON.parse(stdout.slice(0, cut)) as EchoReply }
}

describe('Expect: 100-continue with the real curl', () => {
  const ways = (): Record<string, { url: string; args: string[] }> => ({
    'forward proxy': { url: `http://api.partner.test:${upstream.port}/upload`, args: ['-x', gw.url] },
    'route mode': { url: `${gw.url}/proxy/partner/upload`, args: [] },
    CONNECT: { url: `https://api.partner.test:${upstream.port}/upload`, args: ['-x', gw.url, '--cacert', ca.caCert] },
  })
  for (const way of ['forward proxy', 'route mode', 'CONNECT']) {
    it(`${way}: curl -T of a file and a 2 MiB POST arrive whole`, async () => {
      const w = ways()[way] as { url: string; args: string[] }
      seenExpect.length = 0
      const put = await curl([...w.args, '-H', 'Expect: 100-continue', '-T', upload, w.url])
      expect(put.status).toBe(200)
      expect(put.reply).toMatchObject({ method: 'PUT', bodyLength: 300 * 1024, bodySha256: uploadSha })
      const big = await curl([...w.args, '--data-binary', `@${post}`, '-H', 'Content-Type: application/octet-stream', w.url])
      expect(big.status).toBe(200)
      expect(big.reply).toMatchObject({ method: 'POST', bodyLength: 2 * 1024 * 1024, bodySha256: postSha })
      expect(seenExpect).toEqual([undefined, undefined])
    })
  }

  it('a refused upload gets its answer without the body being asked for', async () => {
    const { stdout } = await run('curl', ['-sS', '-x', gw.url, '-H', 'Expect: 100-continue', '-T', post, '-w', '\n%{http_code} %{size_upload}', 'http://not-configured.test/x'])
    const [body, summary] = [stdout.slice(0, stdout.lastIndexOf('\n')), stdout.slice(stdout.lastIndexOf('\n') + 1)]
    expect(summary.split(' ')[0]).toBe('403')
    expect(Number(summary.split(' ')[1])).toBeLessThan(2 * 1024 * 1024)
    expect(JSON.parse(body)).toMatchObject({ errors: [{ code: 403 }] })
  })
})

describe('Expect: 100-continue on an HTTP/1.0 request', () => {
  // RFC 9110 §10.1.1 and §15.2: ignored, and no 1xx to an HTTP/1.0 client, which has none: it (or a
  // 1.0 hop before the gateway) took the 100 for the answer, and each real answer for the next request's.
  it('gets no 100 Continue: the body the client sent with it arrives, and each answer is its request\'s (raw socket, fast-check, 12 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('forward', 'route'), fc.constantFrom('100-continue', '100-Continue', ' 100-continue '), fc.integer({ min: 1, max: 4096 }), async (way, expectation, size) => {
        const target = way === 'forward' ? `http://api.partner.test:${upstream.port}` : '/proxy/partner'
        const body = 'b'.repeat(size)
        const c = await rawClient(Number(new URL(gw.url).port))
        // A 1.0 client sends the body at once, and a second request on the kept-alive connection.
        c.socket.write(`POST ${target}/first HTTP/1.0\r\nConnection: keep-alive\r\nExpect:${expectation}\r\nContent-Type: text/plain\r\nContent-Length: ${size}\r\n\r\n${body}GET ${target}/second HTTP/1.0\r\n\r\n`)
        await c.closed(15_000)
        const text = c.received().toString('latin1')
        expect(text, text).not.toMatch(/HTTP\/1\.\d 1\d\d /)
        expect(text.match(/HTTP\/1\.1 \d{3} /g), text).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 200 '])
        const replies = text.split(/HTTP\/1\.1 200 /).slice(1).map((r) => JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)) as EchoReply)
        expect(replies.map((r) => [r.method, r.bodyLength])).toEqual([['POST', size], ['GET', 0]])
      }),
      { seed: 0x100c, numRuns: 12 },
    )
  })
})
