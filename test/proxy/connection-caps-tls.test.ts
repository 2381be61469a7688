/**
 * The caps count raw TCP connections, before any TLS handshake: on a `listen.tls` listener a
 * connection over `connections.max` is closed on accept (counted), every closed connection
 * gives its slot back (however it ended), and the admin listener's own cap works the same way.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { rawClient, type RawClient } from '../support/raw-client.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let g: OpsGateway
const open: (TLSSocket | RawClient['socket'])[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const tls = `{ cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')} }`
  g = await startOpsGateway(pki.dir, `listen:\n  tls: ${tls}\n  connections: { max: 2 }\nadmin:\n  connections: { max: 2 }\nendpoints: []\n`)
})

afterAll(async () => {
  for (const s of open) s.destroy()
  await g?.gw.close()
  pki?.cleanup()
})

/** A TLS connection to the listener: resolves once its handshake completed, or with 'closed' when the gateway closed it first. */
function handshake(): Promise<TLSSocket | 'closed'> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ port: g.gw.port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.file('root.crt')) })
    open.push(socket)
    socket.on('error', () => {})
    socket.once('secureConnect', () => resolve(socket))
    // Read whatever comes, so the gateway's close is seen.
    socket.resume()
    socket.once('close', () => resolve('closed'))
  })
}

const refused = async (listener: string): Promise<number> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_connections_refused_total', { listener, reason: 'max_connections' }) ?? 0

describe('connection caps on TLS and admin listeners', () => {
  it('refuses over the cap before the handshake and gives slots back however connections end', async () => {
    // Many more connections than the cap, one after another, closed by the caller and by the gateway.
    for (let i = 0; i < 6; i++) {
      const s = await handshake()
      if (s === 'closed') throw new Error(`connection ${i + 1} was refused with no other connection open`)
      if (i % 2 === 0) s.destroy()
      else s.write('GET /nowhere HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n')
      await new Promise((resolve) => s.once('close', resolve))
    }
    expect(await refused('proxy')).toBe(0)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_connections_open', { listener: 'proxy' }) === 0, 15_000, 'every cycled connection closed')
    const held = [await handshake(), await handshake()]
    expect(held).not.toContain('closed')
    expect(await handshake()).toBe('closed')
    expect(await refused('proxy')).toBe(1)
    ;(held[0] as TLSSocket).destroy()
    await eventually(async () => (await handshake()) !== 'closed', 15_000, 'a freed slot to be usable')
  })

  it('caps the admin listener the same way', async () => {
    const port = Number(new URL(g.adminUrl).port)
    const held = [await rawClient(port), await rawClient(port)]
    open.push(...held.map((c) => c.socket))
    const over = await rawClient(port)
    await over.closed(10_000)
    expect(over.received().length).toBe(0)
    for (const c of held) c.socket.destroy()
    // A scrape made before the gateway saw them close is refused too: at least the one.
    await eventually(async () => (await refused('admin')) >= 1, 15_000, 'the admin refusal counted')
  })
})
