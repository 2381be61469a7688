/**
 * Connection caps of one server: the total (Node's maxConnections, which closes the socket
 * before any JavaScript sees it) and an optional per-source-address cap, checked on the raw
 * TCP connection before any TLS handshake, so a refused connection costs nothing.
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionLimitsConfig } from '../config/index.js'
import { callerAddress } from './caller-address.js'

/** Why a new connection was refused (label value). */
export type RefusalReason = 'max_connections' | 'per_address' | 'fd_exhausted'

/** Applies the caps to `server`; `refused` is told about every refusal. */
export function capConnections(server: Server, caps: ConnectionLimitsConfig | undefined, refused: (reason: RefusalReason) => void): void {
  if (caps) server.maxConnections = caps.max
  server.on('drop', () => refused('max_connections'))
  if (caps && caps.perAddress > 0) capPerAddress(server, caps.perAddress, () => refused('per_address'))
  server.once('listening', () => {
    server.on('error', (err: NodeJS.ErrnoException) => {
      // Accept failures: out of descriptors is reported; anything else is transient.
      if (err.code === 'EMFILE' || err.code === 'ENFILE') refused('fd_exhausted')
    })
  })
}

function capPerAddress(server: Server, perAddress: number, refused: () => void): void {
  const counts = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = callerAddress(socket) ?? ''
    const n = (counts.get(address) ?? 0) + 1
    if (n > perAddress) {
      refused()
      return void socket.destroy()
    }
    counts.set(address, n)
    socket.once('close', () => {
      const left = (counts.get(address) ?? 1) - 1
      if (left > 0) counts.set(address, left)
      else counts.delete(address)
    })
  })
}
