/**
 * One request of a connection at a time (pipelined.ts) for a server that keeps no other record
 * of its requests: the admin listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError } from '../errors.js'
import { enter, leave } from './pipelined.js'

/**
 * `serve`, run in its connection's turn (enter/leave) for a server that keeps no other record of
 * its requests (the admin listener): one request of a connection at a time, none after an answer
 * that closed it, one past MAX_WAITING and any after it answered by `refuse` (its answer closes the connection).
 */
export function inTurn(serve: RequestHandler, refuse: (req: IncomingMessage, res: ServerResponse, err: GatewayError) => void): RequestHandler {
  return (req, res) => {
    const turn = enter(req.socket)
    if (turn instanceof GatewayError) return refuse(req, res, turn)
    const start = (): void => {
      res.on('close', () => leave(req.socket, res))
      serve(req, res)
    }
    if (turn === true) return start()
    void turn.then((go) => (go === true ? start() : undefined))
  }
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void
