/**
 * A raw mTLS backend that writes exactly the bytes a test gives it for each request head it
 * reads (request bodies are not read): for answers no real server would send (a 204 naming a
 * length, an unasked-for 100 Continue, a 407 from behind the TLS).
 */
import { readFileSync, rmSync } from 'node:fs'
import type { AddressInfo, Socket } from 'node:net'
import { createServer, type TLSSocket } from 'node:tls'
import type { TestPki } from './pki.js'

export interface ScriptedBackend {
  port: number
  close(): Promise<void>
}

/**
 * Starts on 127.0.0.1:0, requiring a client certificate under `pki`'s root; `answer` gets each request head (without its blank line),
 * and a Buffer answer is written byte for byte; undefined writes nothing (`answer` wrote on the socket, or ended it, itself).
 */
export async function startScriptedBackend(pki: TestPki, answer: (head: string, socket: TLSSocket) => string | Buffer | undefined): Promise<ScriptedBackend> {
  const sockets = new Set<TLSSocket>()
  const server = createServer({ cert: readFileSync(pki.file('server-chain.crt')), key: readFileSync(pki.file('server.key')), ca: readFileSync(pki.file('root.crt')), requestCert: true }, (s: TLSSocket) => {
    let buf = ''
    s.on('error', () => undefined)
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end)
        buf = buf.slice(end + 4)
        const bytes = answer(head, s)
        if (bytes !== undefined) s.write(bytes)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** Closes what a scripted-backend test started, whichever parts of it did start: the gateway, then the backend, then its directory. */
export async function closeScriptedRig(rig: { gw?: { close(): Promise<void> } | undefined; backend?: ScriptedBackend | undefined; dir?: string | undefined }): Promise<void> {
  await rig.gw?.close()
  await rig.backend?.close()
  if (rig.dir) rmSync(rig.dir, { recursive: true, force: true })
}

/**
 * Writes `bytes`, then resets the TCP connection under the TLS (an RST: no close_notify, no FIN), as
 * a backend that crashed or a middlebox that gave up would leave it; the delay lets the head travel on first.
 */
export function writeThenReset(socket: TLSSocket, bytes: string, afterMs = 100): void {
  socket.write(bytes)
  setTimeout(() => resetUnder(socket), afterMs)
}

/** Resets the TCP connection under `socket`'s TLS now (an RST: no close_notify, no FIN). */
export function resetUnder(socket: TLSSocket): void {
  ;(socket as TLSSocket & { _parent: Socket })._parent.resetAndDestroy()
}
