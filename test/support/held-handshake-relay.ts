/**
 * A TCP relay that holds a caller's TLS handshake across a moment of the test's choosing (a
 * reload): it passes each caller's ClientHello and holds what the caller sends next (its
 * certificate and Finished) until release().
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'

/** A relay to 127.0.0.1:`target`; held(): how many callers' flights it holds; release() lets every one through. */
export async function heldHandshakeRelay(target: number): Promise<{ port: number; held: () => number; release: () => void; close: () => Promise<void> }> {
  const releases: (() => void)[] = []
  let holding = 0
  const relay: Server = createServer((client: Socket) => {
    const server = tcpConnect(target, '127.0.0.1')
    const held: Buffer[] = []
    let answered = false
    let hold = true
    let counted = false
    server.on('data', (chunk: Buffer) => ((answered = true), client.write(chunk)))
    client.on('data', (chunk: Buffer) => {
      if (!answered || !hold) return void server.write(chunk)
      if (!counted) holding++
      counted = true
      held.push(chunk)
    })
    releases.push(() => {
      hold = false
      for (const chunk of held.splice(0)) server.write(chunk)
    })
    const end = (): void => {
      client.destroy()
      server.destroy()
    }
    server.on('close', end).on('error', end)
    client.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  const port = (relay.address() as { port: number }).port
  return { port, held: () => holding, release: () => releases.splice(0).forEach((r) => r()), close: () => new Promise((resolve) => relay.close(() => resolve())) }
}
