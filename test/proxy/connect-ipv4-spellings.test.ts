/**
 * An endpoint configured by IPv4 address is matched by that address in dotted-decimal only.
 * `127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1` and `127.000.0.1` are refused (403), never
 * read as 127.0.0.1: real clients (curl, Node, Go) write dotted-decimal themselves, and these
 * spellings are where parsers disagree (`0127.0.0.1` is 87.0.0.1 to WHATWG URL and inet_aton).
 * The refusal names what the caller sent as well as the address it reads as; a target the
 * gateway matched in another spelling (letter case, an IPv6 literal) names both spellings too.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { startTestGateway } from '../support/gateway.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { rawClient, rawRoundTrip } from '../support/raw-client.js'

let pki: TestPki
let upstream: RunningServer
let gw: RunningGateway
let P = 0

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  P = upstream.port
  const ica = await writeInterceptionCa(join(pki.dir, 'ica'))
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\ninterception: { caCert: ${ica.caCert}, caKey: ${ica.caKey} }\nendpoints:\n  - name: byip\n    url: https://127.0.0.1:${P}\n    allowPrivate: true\n    tls: ${clientTlsYaml(pki)}\n`)
})

afterAll(async () => {
  await gw?.close()
  await upstream?.close()
  pki?.cleanup()
})

const connect = (target: string) => rawRoundTrip(gw.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`)
const msgOf = (body: Buffer): string => (JSON.parse(body.toString('utf8')) as { errors: { msg: string }[] }).errors[0]?.msg ?? ''

describe('CONNECT to an endpoint configured by IPv4 address', () => {
  it('dotted-decimal is accepted', async () => {
    const client = await rawClient(gw.port)
    client.socket.write(`CONNECT 127.0.0.1:${P} HTTP/1.1\r\nHost: 127.0.0.1:${P}\r\n\r\n`)
    await new Promise((r) => client.socket.once('data', r))
    expect(client.received().toString('latin1')).toMatch(/^HTTP\/1\.1 200 /)
    client.socket.destroy()
  })

  for (const [sent, read] of [['127.1', '127.0.0.1'], ['0x7f.0.0.1', '127.0.0.1'], ['2130706433', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['127.000.0.1', '127.0.0.1'], ['0127.0.0.1', '87.0.0.1']] as const) {
    it(`${sent} is refused, the refusal naming it and the address it reads as (${read})`, async () => {
      const r = await connect(`${sent}:${P}`)
      expect(r.status).toBe(403)
      expect(msgOf(r.body)).toBe(`CONNECT to ${sent}:${P} refused: host is not configured on this gateway (${sent} is the IPv4 address ${read} in another spelling, as WHATWG URL reads it; IPv4 addresses are matched only in dotted-decimal: send ${read})`)
      expect(upstream.stats.handshakes).toBe(0)
    })
  }

  it('a target matched in another spelling is named in both', async () => {
    expect(msgOf((await connect('[0:0:0:0:0:0:0:1]:443')).body)).toBe('CONNECT to [::1]:443 (sent as [0:0:0:0:0:0:0:1]:443) refused: host is not configured on this gateway')
    expect(msgOf((await connect('Nowhere.Example.:443')).body)).toBe('CONNECT to nowhere.example:443 (sent as Nowhere.Example.:443) refused: host is not configured on this gateway')
    expect(msgOf((await connect('nowhere.example:443')).body)).toBe('CONNECT to nowhere.example:443 refused: host is not configured on this gateway')
  })

  it('the forward proxy refuses the same spellings in the same words', async () => {
    const r = await rawRoundTrip(gw.port, `GET http://0x7f.0.0.1:${P}/x HTTP/1.1\r\nHost: 0x7f.0.0.1:${P}\r\nConnection: close\r\n\r\n`)
    expect(r.status).toBe(403)
    expect(msgOf(r.body)).toBe(`host 0x7f.0.0.1:${P} is not configured on this gateway (0x7f.0.0.1 is the IPv4 address 127.0.0.1 in another spelling, as WHATWG URL reads it; IPv4 addresses are matched only in dotted-decimal: send 127.0.0.1)`)
    expect(upstream.stats.handshakes).toBe(0)
  })
})
