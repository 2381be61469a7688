/**
 * Connection caps of one server: the total and an optional per-source-address cap, counted on
 * the raw TCP connection before any TLS handshake; a connection over either is destroyed in
 * the same tick it is accepted, before a byte is read, so a refused connection costs nothing.
 *
 * Not Node's `server.maxConnections`: in a `--workers` worker it does not close the connection
 * but hands it back to the primary, which offers it to the next worker, full too, and so on
 * until a slot frees: every process spins, nothing is refused or counted. Counting here is one
 * mechanism for one process and for workers alike.
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionLimitsConfig } from '../config/index.js'
import { callerAddress } from './caller-address.js'

/** Why a new connection was refused (label value). */
export type RefusalReason = 'max_connections' | 'per_address' | 'fd_exhausted'

/** What the metrics read of a listener: its open connections (Node's count) and its cap. */
export interface CappedConnections {
  getConnections(cb: (err: Error | null, count: number) => void): void
  readonly maxConnections: number | undefined
}

// The total cap each capped server was given (connectionCounter reads it).
const totals = new WeakMap<Server, number>()

/** The open connections and the total cap of `server` (undefined: not capped). */
export function connectionCounter(server: Server): CappedConnections {
  return { getConnections: (cb) => void server.getConnections(cb), maxConnections: totals.get(server) }
}

/** Applies the caps to `server`; `refused` is told about every refusal. */
export function capConnections(server: Server, caps: ConnectionLimitsConfig | undefined, refused: (reason: RefusalReason) => void): void {
  if (caps) enforceCaps(server, caps, refused)
  server.once('listening', () => {
    server.on('error', (err: NodeJS.ErrnoException) => {
      // Accept failures: out of descriptors is reported; anything else is transient.
      if (err.code === 'EMFILE' || err.code === 'ENFILE') refused('fd_exhausted')
    })
  })
}

/** One listener for both caps, so a connection is refused (and counted) once, the total first. */
function enforceCaps(server: Server, caps: ConnectionLimitsConfig, refused: (reason: RefusalReason) => void): void {
  totals.set(server, caps.max)
  let open = 0
  const perAddress = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = caps.perAddress > 0 ? (callerAddress(socket) ?? '') : undefined
    const fromAddress = address === undefined ? 0 : (perAddress.get(address) ?? 0)
    const overAddress = address !== undefined && fromAddress >= caps.perAddress
    const over: RefusalReason | undefined = open >= caps.max ? 'max_connections' : overAddress ? 'per_address' : undefined
    if (over) {
      refused(over)
      return void socket.destroy()
    }
    open++
    if (address !== undefined) perAddress.set(address, fromAddress + 1)
    socket.once('close', () => {
      open--
      if (address === undefined) return
      const left = (perAddress.get(address) ?? 1) - 1
      if (left > 0) perAddress.set(address, left)
      else perAddress.delete(address)
    })
  })
}
