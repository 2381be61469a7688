/**
 * An attempt that may wait (settled-throttle.ts: up to 15 s for a place held by attempts in
 * flight), given a signal that aborts as soon as its request's connection closes: the caller
 * left, so it stops waiting at once with `caller_aborted` (499, only logged) and is neither
 * admitted, refused nor counted. Before, it noticed only at its next poll, and was answered as
 * refused (counted as throttled) or, woken by a settle, admitted for nobody (and counted as failed).
 */
import type { IncomingMessage } from 'node:http'
import { GatewayError } from '../errors.js'

/** Runs `wait` with a signal aborted (reason caller_aborted) when `req`'s connection closes; the listener goes when `wait` settles. */
export async function whileConnected<T>(req: IncomingMessage, route: string, wait: (gone: AbortSignal) => Promise<T>): Promise<T> {
  const socket = req.socket
  const gone = new AbortController()
  const left = (): void => gone.abort(new GatewayError('caller_aborted', `${route}: the caller closed the connection while its attempt waited for a place under the failure throttle`))
  if (socket.destroyed) left()
  else socket.once('close', left)
  try {
    return await wait(gone.signal)
  } finally {
    socket.off('close', left)
  }
}
