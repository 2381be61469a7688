/**
 * A CONNECT to an IPv6 literal as Python (3.12 and later) sends it: the Host carries the address
 * unbracketed. It is served when that Host is the target's own text without brackets, and only
 * then; every other Host that is not a host[:port] keeps its 400 (RFC 9112 §3.2). The wire tests
 * write the exact bytes on a raw socket to a real gateway (pass-through to an echo server on ::1).
 */
import type { IncomingMessage } from 'node:http'
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { headRefusal } from '../../src/proxy/client-error.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
let gw: RunningGateway
let echo: TcpServer
let E = 0

beforeAll(async () => {
  pki = await createTestPki('p256')
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  echo = createTcpServer((s) => s.pipe(s))
  await new Promise<void>((r) => echo.listen(0, '::1', r))
  E = (echo.address() as AddressInfo).port
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }
interception:
  caCert: ${ica.caCert}
  caKey: ${ica.caKey}
  passThrough: [{ host: "::1", port: ${E}, allowPrivate: true }]
endpoints:
  - name: partner
    url: https://api.partner.test:8443
    tls: ${clientTlsYaml(pki)}
`)
})

afterAll(async () => {
  await gw?.close()
  await new Promise((r) => echo?.close(r))
  pki?.cleanup()
})

/** Writes `head` on a fresh connection; resolves with the answer's status line and the open socket. */
function connectWith(head: string): Promise<{ status: number; text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(Buffer.from(head, 'latin1')))
    let text = ''
    const onData = (c: Buffer): void => {
      text += c.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1]
      if (end < 0 || (length !== undefined && text.length - end - 4 < Number(length))) return
      socket.off('data', onData)
      resolve({ status: Number(text.slice(9, 12)), text, socket })
    }
    socket.on('data', onData).once('error', reject)
  })
}

async function expectInvalidHost(head: string): Promise<void> {
  const a = await connectWith(head)
  a.socket.destroy()
  expect(a.status, head).toBe(400)
  expect(a.text).toContain('{"errors":[{"msg":"the Host header is not a host[:port] (RFC 9112, section 3.2)","code":400}]}')
}

describe('CONNECT to an IPv6 literal', () => {
  // CPython 3.12+, Lib/http/client.py: set_tunnel adds, when the caller gave no Host,
  //     encoded_host = self._tunnel_host.encode("idna").decode("ascii")
  //     self._tunnel_headers["Host"] = "%s:%d" % (encoded_host, self._tunnel_port)
  // (_tunnel_host is unbracketed: _get_hostport strips the brackets; the port is always there,
  // _get_hostport fills in default_port), and _tunnel writes
  //     connect = b"CONNECT %s:%d %s\r\n" % (self._wrap_ipv6(self._tunnel_host.encode("idna")), self._tunnel_port, self._http_vsn_str.encode("ascii"))
  // then each tunnel header as f"{header}: {value}\r\n" and b"\r\n": these bytes exactly.
  it("Python 3.12's bytes (Host unbracketed): the tunnel opens and carries bytes both ways", async () => {
    const a = await connectWith(`CONNECT [::1]:${E} HTTP/1.1\r\nHost: ::1:${E}\r\n\r\n`)
    expect(a.status, a.text).toBe(200)
    const back = new Promise<string>((r) => a.socket.once('data', (c: Buffer) => r(c.toString('latin1'))))
    a.socket.write('ping')
    expect(await back).toBe('ping')
    a.socket.destroy()
  })

  it("curl's and Go's spelling (Host bracketed, as RFC 9112 has it) is served as before", async () => {
    // curl 7.88.1 (`curl -p -x … https://[2001:db8::1]/`, captured): `CONNECT [2001:db8::1]:443 HTTP/1.1`, `Host: [2001:db8::1]:443`,
    // User-Agent, Proxy-Connection. Go net/http (transport.go, dialConn): the CONNECT's Host is cm.targetAddr (canonicalAddr: net.JoinHostPort, bracketed).
    const a = await connectWith(`CONNECT [::1]:${E} HTTP/1.1\r\nHost: [::1]:${E}\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n`)
    a.socket.destroy()
    expect(a.status, a.text).toBe(200)
  })

  it('an unbracketed Host naming another address or port, or none, or on another method: the 400', async () => {
    for (const host of [`::2:${E}`, `::1:${E + 1}`, '::1', `0::1:${E}`, ` ::1:${E}x`, `[::1:${E}`]) {
      await expectInvalidHost(`CONNECT [::1]:${E} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
    }
    await expectInvalidHost(`CONNECT 127.0.0.1:${E} HTTP/1.1\r\nHost: 127.0.0.1:${E}:${E}\r\n\r\n`)
    await expectInvalidHost(`GET http://[::1]:${E}/ HTTP/1.1\r\nHost: ::1:${E}\r\nConnection: close\r\n\r\n`)
  })
})

/** A parsed request head as headRefusal reads it. */
const requestHead = (method: string, url: string, host: string): IncomingMessage =>
  ({ method, url, httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1, headers: { host }, rawHeaders: ['Host', host] }) as unknown as IncomingMessage

describe('the leniency accepts nothing else (seeded property)', () => {
  it('an unbracketed IPv6 Host passes exactly when it is a CONNECT target without its brackets', () => {
    const caseFlip = (s: string, flips: boolean[]): string => [...s].map((ch, i) => (flips[i % Math.max(flips.length, 1)] ? ch.toUpperCase() : ch)).join('')
    fc.assert(
      fc.property(
        fc.ipV6(), fc.integer({ min: 1, max: 65535 }), fc.ipV6(), fc.integer({ min: 0, max: 99999 }),
        fc.constantFrom('same', 'same-case', 'other-address', 'other-port', 'other-both', 'no-port', 'affixed'),
        fc.constantFrom('CONNECT', 'GET', 'OPTIONS'), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 3 }), fc.boolean(),
        (address, port, other, otherPort, kind, method, flips, affix, before) => {
          const exact = `${address}:${port}`
          const host = {
            same: exact,
            'same-case': caseFlip(exact, flips),
            'other-address': `${other}:${port}`,
            'other-port': `${address}:${otherPort}`,
            'other-both': `${other}:${otherPort}`,
            'no-port': address,
            affixed: before ? `${affix}${exact}` : `${exact}${affix}`,
          }[kind]
          const refusal = headRefusal(requestHead(method, `[${address}]:${port}`, host))
          // Names the target exactly (an IPv6 address with at least two colons is never a host[:port] on its own).
          const accepted = method === 'CONNECT' && host.toLowerCase() === exact.toLowerCase()
          if (accepted) expect(refusal, host).toBeUndefined()
          else expect(refusal?.reason, `${method} [${address}]:${port} with Host ${host}`).toBe('bad_request')
        },
      ),
      { seed: 0x3120, numRuns: 5000 },
    )
  })
})
