/**
 * The wire side of connect-trailing-dot.property.test.ts, through real tunnels: curl sends
 * `CONNECT api.partner.test.:<port>` for `https://api.partner.test.:<port>/`, and the gateway
 * opens the tunnel of the endpoint configured as `api.partner.test` (it used to answer 403). The
 * leaf it presents is minted for the configured name, which curl and node:tls both accept for
 * the dotted name (each drops the dot before checking); the access record names the configured
 * endpoint. The same for forward-proxy absolute-form; two dots or a lone dot are still refused.
 * Inputs are fixed: nothing dialled comes from generated input.
 */
import { execFile } from 'node:child_process'
import { connect as tcpConnect } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, startTestGateway } from '../support/gateway.js'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import type { RequestRecord } from '../../src/proxy/request-record.js'
import { writeInterceptionCa } from '../../src/tls/index.js'

const run = promisify(execFile)
let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let ca: { caCert: string; caKey: string }
const minted: string[] = []
const records: RequestRecord[] = []

beforeAll(async () => {
  pki = await createTestPki('p256', ['api.partner.test'])
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
interception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }
endpoints:
${endpointYaml('partner', upstream.port, clientTls(pki))}`, { hooks: { onMint: (host) => minted.push(host) }, onDone: (r) => records.push(r) })
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

/** A raw CONNECT: the status of its answer, and the socket (open on a 200). */
async function connectRaw(target: string): Promise<{ status: number; socket: ReturnType<typeof tcpConnect> }> {
  const socket = tcpConnect(gw.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`)
  let head = ''
  await new Promise<void>((resolve) => {
    const on = (c: Buffer): void => {
      head += c.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', on)
      resolve()
    }
    socket.on('data', on)
  })
  return { status: Number(head.slice(9, 12)), socket }
}

describe('a CONNECT target with one trailing dot', () => {
  it('real curl: https://api.partner.test.:<port>/ goes through the tunnel to the configured endpoint, under a leaf for the configured name', async () => {
    const before = records.length
    const { stdout } = await run('curl', ['-sS', '-x', gw.url, '--cacert', ca.caCert, `https://api.partner.test.:${upstream.port}/dotted?x=1`])
    const echo = JSON.parse(stdout) as EchoReply
    expect(echo.url).toBe('/dotted?x=1')
    expect(echo.clientSubject).toContain('CN=bot-runtime')
    expect(minted).toContain('api.partner.test')
    expect(minted.filter((h) => h.endsWith('.'))).toEqual([])
    const mine = records.slice(before)
    expect(mine.map((r) => [r.mode, r.status, r.facts.endpoint])).toEqual([['connect', 200, 'partner']])
  })

  it('node:tls, verifying against the dotted name, accepts the leaf; the request inside is served', async () => {
    const { status, socket } = await connectRaw(`api.partner.test.:${upstream.port}`)
    expect(status).toBe(200)
    const tls: TLSSocket = tlsConnect({ socket, servername: 'api.partner.test.', ca: readFileSync(ca.caCert), ALPNProtocols: ['http/1.1'] })
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject))
    expect(tls.authorized).toBe(true)
    expect(tls.getPeerCertificate().subjectaltname).toBe('DNS:api.partner.test')
    tls.write(`GET /inner HTTP/1.1\r\nHost: api.partner.test.:${upstream.port}\r\nConnection: close\r\n\r\n`)
    let text = ''
    for await (const c of tls) text += (c as Buffer).toString('latin1')
    expect(text.slice(0, 12)).toBe('HTTP/1.1 200')
    expect((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as EchoReply).url).toBe('/inner')
  })

  it('two trailing dots, a leading dot or a lone dot are still refused, and nothing is minted for them', async () => {
    const mintedBefore = minted.length
    for (const host of ['api.partner.test..', '.api.partner.test', '.']) {
      const { status, socket } = await connectRaw(`${host}:${upstream.port}`)
      socket.destroy()
      expect(status, host).toBe(403)
    }
    expect(minted.length).toBe(mintedBefore)
  })

  it('forward proxy (real curl): http://api.partner.test.:<port>/ reaches the configured endpoint; two dots are a 400', async () => {
    const before = records.length
    const { stdout } = await run('curl', ['-sS', '-x', gw.url, `http://api.partner.test.:${upstream.port}/plain`])
    expect((JSON.parse(stdout) as EchoReply).url).toBe('/plain')
    expect(records.slice(before).map((r) => [r.mode, r.status, r.facts.endpoint])).toEqual([['forward', 200, 'partner']])
    const refused = await run('curl', ['-sS', '-x', gw.url, '-o', '/dev/null', '-w', '%{http_code}', `http://api.partner.test..:${upstream.port}/plain`])
    expect(refused.stdout).toBe('400')
  })
})
