/**
 * The end of drain.grace means "requests were cut" (exit 1) only while connections are still
 * open. Once every connection closed, a step of closing that hangs (a store, a pool, the span
 * flush) is said and the process exits 0: nothing in flight was lost. close() gets what is left
 * of the grace period less EXIT_RESERVE_MS, so such steps can bound themselves.
 */
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createDrain, EXIT_RESERVE_MS, type Drain } from '../../src/ops/drain.js'

const servers: Server[] = []
const sockets: Socket[] = []
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const s of servers.splice(0)) s.closeAllConnections()
})

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('ok'))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

/** A request in progress: headers sent, never finished, so the connection is not idle. */
async function requestInProgress(server: Server, port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1')
  sockets.push(s)
  // In progress once the server read the headers (a fixed pause may end before, on a loaded machine).
  const read = new Promise((resolve) => server.once('request', resolve))
  await new Promise<void>((resolve) => s.once('connect', resolve))
  s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n')
  await read
  return s
}

function drainOf(server: Server, graceMs: number, close: (budgetMs: number) => Promise<void>): { code: Promise<number>; lines: string[]; drain: Drain } {
  const lines: string[] = []
  let done: (code: number) => void = () => undefined
  const code = new Promise<number>((resolve) => (done = resolve))
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) })
  const drain = createDrain({ server, graceMs: () => graceMs, inFlight: () => 0, close, endInFlight: () => Promise.resolve(), log, exit: done })
  drain.begin('test')
  return { code, lines, drain }
}

describe('drain: the grace period ending', () => {
  it('after every connection closed, while closing hangs: exit 0, said; close() was given the grace left less the reserve', async () => {
    const { server } = await listening()
    let budget = -1
    const d = drainOf(server, 1500, (b) => {
      budget = b
      return new Promise(() => undefined)
    })
    expect(await d.code).toBe(0)
    expect(budget).toBeGreaterThan(0)
    expect(budget).toBeLessThanOrEqual(1500 - EXIT_RESERVE_MS)
    expect(d.lines.some((l) => l.includes('grace period over while closing after the drain'))).toBe(true)
  })

  it('with a connection still open: exit 1', async () => {
    const { server, port } = await listening()
    await requestInProgress(server, port)
    const d = drainOf(server, 500, () => Promise.resolve())
    expect(await d.code).toBe(1)
    expect(d.lines.some((l) => l.includes('grace period over: exiting with requests in flight'))).toBe(true)
  })

  it('the --workers primary\'s shorter grace arriving after closing began ends the drain at that grace, exit 0', async () => {
    const { server } = await listening()
    let closing = (): void => undefined
    const began = new Promise<void>((resolve) => (closing = resolve))
    const d = drainOf(server, 60_000, () => (closing(), new Promise(() => undefined)))
    await began
    const at = Date.now()
    d.drain.begin('primary', 300)
    expect(await d.code).toBe(0)
    // The drain's own 60 s grace is what it would wait without the primary's: half of it tells them apart on any load.
    expect(Date.now() - at).toBeLessThan(30_000)
    expect(d.lines.some((l) => l.includes('drain grace set by the primary'))).toBe(true)
    expect(d.lines.some((l) => l.includes('grace period over while closing after the drain'))).toBe(true)
  })

  it('a grace longer than a timer can hold (1000h) waits for the open connection instead of exiting 1 at once', async () => {
    const { server, port } = await listening()
    const s = await requestInProgress(server, port)
    const d = drainOf(server, 3_600_000_000, () => Promise.resolve())
    const early = await Promise.race([d.code, new Promise((r) => setTimeout(() => r('waiting'), 300))])
    expect(early).toBe('waiting')
    // The request's connection goes away: the drain ends, nothing was cut by the gateway.
    s.destroy()
    expect(await d.code).toBe(0)
  })
})
