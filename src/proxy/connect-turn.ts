/**
 * A CONNECT answered in its connection's turn (pipelined.ts connectTurn), and abandoned as soon
 * as its caller leaves: whatever keeps it from its answer is accounted for like a request in its
 * place, by throwing why.
 */
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { callerAborted } from './outcome.js'
import { connectTurn, isClosingAhead } from './pipelined.js'
import { readNoMoreUntilClosing } from './lingering-close.js'

/**
 * Runs a CONNECT's `answer` in its turn (connectTurn). A CONNECT left unserved is accounted for
 * like a request would be, by throwing why: the refusal of its connection (behind a request refused
 * for pipelining too many, or once a drain's end came), for which nothing is written behind a
 * refused request (isClosingAhead: the answers before it are still going out, and the connection
 * closes after them); the gateway's ending of the connection (isEndedAhead; nothing written either);
 * `caller_aborted` when the connection closed or began closing while it waited, or while it was
 * answered (`target`: the CONNECT's, as sent).
 */
export async function inConnectTurn(socket: Duplex, target: string, answer: () => Promise<void>): Promise<void> {
  const turn = connectTurn(socket)
  if (turn instanceof GatewayError) throw turn
  const go = turn === true || (await turn)
  if (go === true) return unlessCallerLeaves(socket, target, answer)
  // Reading stops until the connection closes lingering: what follows a closing request is never processed (RFC 9112 §9.6).
  if (go && isClosingAhead(socket, go)) readNoMoreUntilClosing(socket)
  throw go || callerAborted()
}

/**
 * `answer` (admission, the leaf, the dial: everything before the CONNECT's answer), or
 * caller_aborted as soon as the caller closes its side first. Node no longer reads the socket
 * for the server once it hands a CONNECT over, so nothing else hears a caller leave then: a
 * store lookup that hangs would end in its own 503, written to nobody, long after.
 */
function unlessCallerLeaves(socket: Duplex, target: string, answer: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const left = (): void => reject(connectAbandoned(target))
    if (socket.readableEnded || socket.destroyed) return left()
    socket.once('end', left).once('close', left)
    void answer().then(resolve, reject).finally(() => socket.off('end', left).off('close', left))
  })
}

/** A CONNECT whose caller left before its answer: nobody to answer (499, only logged). */
export function connectAbandoned(target: string): GatewayError {
  return new GatewayError('caller_aborted', `CONNECT ${target}: the caller closed the connection before the tunnel was opened`)
}

