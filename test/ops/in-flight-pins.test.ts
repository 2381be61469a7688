/**
 * A request counts against the config snapshot it is served under, which is the one in force
 * when its turn comes: a request pipelined behind a slow one and reloaded past while it waits
 * is served under the new snapshot, so that snapshot is the one a later reload must not retire
 * (close its pools) while the request runs, and the old one is retired once the request before
 * it is answered. The in-process gateway with ops (reloads by `ops.reload`), a real mTLS
 * backend holding requests, two requests pipelined on one raw connection.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway/index.js'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
/** Backend requests held until released. */
const held: (() => void)[] = []

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void => void held.push(() => echo(req, res))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  const yaml = `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
  g = await startOpsGateway(pki.dir, yaml, { watch: false })
})

afterAll(async () => {
  for (const release of held.splice(0)) release()
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** Records when `gateway` is retired (its pools closed). */
function watchClose(gateway: Gateway): () => boolean {
  let closed = false
  const close = gateway.close
  ;(gateway as { close: () => Promise<void> }).close = () => ((closed = true), close())
  return () => closed
}

/** Statuses of the answers `socket` received so far. */
function statuses(socket: Socket): () => number[] {
  let text = ''
  socket.on('data', (c: Buffer) => void (text += c.toString('latin1')))
  return () => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
}

describe('in-flight requests per snapshot, with a request pipelined across a reload', () => {
  it('the request behind pins the snapshot in force at its turn: the old one retires after the first answer, the new one outlives a second reload while the request runs', async () => {
    const socket = tcpConnect(g.gw.port, '127.0.0.1')
    socket.on('error', () => undefined)
    const answers = statuses(socket)
    const request = (path: string): string => `GET /proxy/partner${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
    socket.write(request('/first') + request('/behind'))
    await eventually(() => held.length === 1, 20_000, 'the backend to hold the first request')
    const first = g.gw.ref.current
    const firstClosed = watchClose(first)
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const second = g.gw.ref.current
    expect(second).not.toBe(first)
    const secondClosed = watchClose(second)
    held.splice(0).forEach((release) => release())
    // The request behind runs now, under the second snapshot: nothing runs under the first any more.
    await eventually(() => held.length === 1, 20_000, 'the backend to hold the request behind')
    await eventually(firstClosed, 20_000, 'the first snapshot to retire')
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    // A turn of the event loop: a retirement with nothing pinned would have closed it by now.
    await new Promise((resolve) => setImmediate(resolve))
    expect(secondClosed()).toBe(false)
    held.splice(0).forEach((release) => release())
    await eventually(() => answers().length === 2, 20_000, 'both answers')
    expect(answers()).toEqual([200, 200])
    await eventually(secondClosed, 20_000, 'the second snapshot to retire once the request is answered')
    socket.destroy()
  })
})
