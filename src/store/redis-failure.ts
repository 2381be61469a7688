/** A Redis store operation's failure, in the operator's words (the access line's `error`); the caller is told UNREACHABLE only. */
import { GatewayError } from '../errors.js'
import { UNREACHABLE } from './store.js'

/** What the connection last showed: its error, and a READONLY answer since the last write that went through. */
export interface ConnectionState {
  status: string
  lastError: Error | undefined
  readOnly: Error | undefined
}

export function storeFailure(where: string, op: string, e: unknown, c: ConnectionState): GatewayError {
  if (e instanceof GatewayError) return e
  const why = e instanceof Error ? e.message : String(e)
  // A replica answers READONLY and the client reconnects and resends until the bound: say so, not "unreachable".
  if (c.readOnly) {
    return new GatewayError('store_unavailable', `redis store ${where}: ${op} failed: the server is a read-only replica (${c.readOnly.message}): a failover in progress, or a stale Sentinel or URL naming a demoted primary`, { cause: e, callerMessage: UNREACHABLE })
  }
  if (c.status !== 'ready') {
    // ioredis's own error ("max retries", "timed out") says less than the connection's.
    const conn = c.lastError?.message ?? `${why} while ${c.status === 'connect' ? 'handshaking' : c.status}`
    return new GatewayError('store_unavailable', `redis store ${where} is unreachable (${conn}): ${op} failed`, { cause: e, callerMessage: UNREACHABLE })
  }
  return new GatewayError('store_unavailable', `redis store ${where}: ${op} failed: ${why}`, { cause: e, callerMessage: UNREACHABLE })
}
