/**
 * An upstream proxy (the `via` connector) that answers CONNECT a byte at a time: the caller gets
 * its 504 at `timeouts.connect`, and the gateway's socket to the connector goes then too. The
 * answer's timer was an idle one, reset by every byte: each such call left a socket open for hours
 * (until 16 KiB of head), one more per request. A raw TCP connector that records its sockets.
 * The connect timeout is 3 s, not less: the answer's first line (from this same process) must
 * reach the gateway before it fires, which took over 0.5 s on a loaded machine.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { eventually } from '../support/eventually.js'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'

let pki: TestPki
let gw: RunningGateway
const open = new Set<Socket>()
const trickles = new Set<NodeJS.Timeout>()
// Answers a CONNECT with a status line, then one more byte of head every 100 ms, never ending it.
const connector = createServer((s) => {
  open.add(s)
  s.on('error', () => undefined)
  s.once('data', () => {
    s.write('HTTP/1.1 200 Connection established\r\n')
    const t = setInterval(() => s.write('X'), 100)
    trickles.add(t)
    s.on('close', () => (clearInterval(t), trickles.delete(t), open.delete(s)))
  })
})

beforeAll(async () => {
  pki = await createTestPki()
  await new Promise<void>((resolve) => connector.listen(0, '127.0.0.1', resolve))
  const port = (connector.address() as AddressInfo).port
  gw = await startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n  - name: trickled\n    url: https://api.partner.test\n    allowPrivate: true\n    via: { url: "http://127.0.0.1:${port}" }\n    timeouts: { connect: 3s }\n    tls: ${clientTlsYaml(pki)}\n`)
})

afterAll(async () => {
  await gw?.close()
  for (const t of trickles) clearInterval(t)
  for (const s of open) s.destroy()
  await new Promise((resolve) => connector.close(resolve))
  pki?.cleanup()
})

describe('a connector that trickles its CONNECT answer', () => {
  it('the call gets its 504 at the connect timeout, and the socket to the connector is closed then', async () => {
    const calls = await Promise.all([1, 2, 3].map(() => send(gw.url, '/proxy/trickled/x')))
    const msg = `endpoint "trickled": upstream proxy 127.0.0.1:${(connector.address() as AddressInfo).port}: connect timeout: its answer to CONNECT api.partner.test:443 did not end within 3 s (timeouts.connect)`
    for (const r of calls) expect(r.json()).toEqual({ errors: [{ msg, code: 504 }] })
    // Closed at the deadline (before: held while the trickle lasts, 16 KiB at 10 bytes a second).
    await eventually(() => open.size === 0, 30_000, 'the gateway to close its sockets to the connector')
  })
})
