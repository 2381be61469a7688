/**
 * A drain begun while its listener's listen() is still pending waits for it. Closed then, a server
 * binds all the same and serves: the drain closes it once it is bound, then exits 0. A listen()
 * that fails is the start's failure (which says why and ends the process): the drain closes
 * nothing and exits nothing. Before, the drain closed the unbound server (Node calls back with
 * ERR_SERVER_NOT_RUNNING), ran its closing and exited 0, and the server bound afterwards, left
 * listening. `serve` itself takes its signals only once it listens (drain-pending-listen.test.ts);
 * this is the drain's own guarantee, on a real server.
 */
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createDrain } from '../../src/ops/drain.js'

const servers: { close(): unknown }[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

function drained(server: Server): { code: Promise<number>; settled: () => boolean; closes: () => number } {
  let done: (code: number) => void = () => undefined
  let exited = false
  let closes = 0
  const code = new Promise<number>((resolve) => (done = resolve)).finally(() => (exited = true))
  const log = pino({ enabled: false })
  createDrain({ server, graceMs: () => 60_000, inFlight: () => 0, close: () => (closes++, Promise.resolve()), endInFlight: () => Promise.resolve(), log, exit: (c) => done(c) }).begin('test')
  return { code, settled: () => exited, closes: () => closes }
}

describe('drain begun before the listener is bound', () => {
  it('closes it once bound, then exits 0: nothing is left listening', async () => {
    const server = createServer((_req, res) => res.end('ok'))
    servers.push(server)
    const d = drained(server)
    const bound = new Promise<void>((resolve) => server.once('listening', resolve))
    server.listen(0, '127.0.0.1')
    await bound
    expect(await d.code).toBe(0)
    expect(d.closes()).toBe(1)
    expect(server.listening).toBe(false)
  })

  it('whose listen() fails: closes nothing, exits nothing (the start fails and says why)', async () => {
    const busy = createTcpServer()
    servers.push(busy)
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const server = createServer()
    const d = drained(server)
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => server.once('error', resolve))
    server.listen((busy.address() as AddressInfo).port, '127.0.0.1')
    expect((await failed).code).toBe('EADDRINUSE')
    // The drain's own 'error' listener ran in the same emit, before this one.
    await new Promise((resolve) => setImmediate(resolve))
    expect([d.closes(), d.settled(), server.listening]).toEqual([0, false, false])
  })
})
