/**
 * The `503` `drain_ended` a drain's end answers a running request with reaches its caller, on a
 * TLS listener as on a plain one, when the caller reads slowly (its answer still in the gateway's
 * send queue as the drain ends) and is still sending (its upload). Before, the drain's end (and its
 * sweep of idle connections) destroyed every connection as soon as the answers were handed to the
 * kernel: the caller's next bytes met a closed socket, the kernel reset the connection and threw
 * away the answer not yet sent, and the caller saw a reset where the access line said 503. Now such
 * a connection closes once its answer has left (its FIN after it, what still arrives discarded),
 * within a second. (Node's tls cannot shrink a socket's receive buffer: hence Python's ssl.)
 *
 * Deterministic: the caller (Python's ssl over a socket with a small receive buffer) pipelines a
 * POST whose echoed answer fills its receive window, then a POST the upstream holds, whose body it
 * goes on uploading; it reads nothing until the gateway has answered 503 and closed or ended the
 * connection, and it has sent more since. In-process gateway, a real mTLS upstream.
 */
import { mkdirSync } from 'node:fs'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseRawResponse } from '../support/raw-client.js'
import { startUnreadCaller, type UnreadResult } from '../support/unread-caller.js'
import { useDrainEndRig } from './drain-end-rig.js'
import { eventually, startOpsGateway } from './helpers.js'

const rig = useDrainEndRig('drain-flush')

const RUNNING = 'the gateway is shutting down: a second signal ended its drain before this request was answered (its upstream may have received it)'
/** The first answer's body: larger than the caller's receive window, so what follows it waits in the gateway's send queue. */
const FILLER = 'f'.repeat(16_000)

/** The slow caller against a gateway on a `tls` or plain listener: what it read, and the error that ended its reading. */
async function slowCallerAtDrainEnd(tls: boolean): Promise<UnreadResult> {
  const tag = tls ? 'tls' : 'plain'
  mkdirSync(join(rig.dir, tag))
  const { pki, upstream } = rig
  const yaml = rig.yaml(tls ? `listen:\n  tls: { cert: ${pki.file('server-chain.crt')}, key: ${pki.file('server.key')} }\n` : '')
  const exits: number[] = []
  const g = await startOpsGateway(join(rig.dir, tag), yaml, { exit: (code) => void exits.push(code) })
  const sockets: Socket[] = []
  g.gw.server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => void sockets.push(s))
  const first = `POST /proxy/partner/fill HTTP/1.1\r\nHost: gw\r\nContent-Length: ${FILLER.length}\r\n\r\n${FILLER}`
  const held = `POST /proxy/partner/held HTTP/1.1\r\nHost: gw\r\nX-Request-Id: held-${tag}\r\nContent-Length: 1000000000\r\n\r\n`
  const client = startUnreadCaller({ port: g.gw.port, ...(tls ? { serverName: 'localhost' } : {}), ca: pki.file('root.crt'), sends: first + held })
  try {
    await eventually(() => upstream.waiting.length === 1, 30_000, 'the upstream to hold the second request')
    g.gw.ops?.drain('SIGTERM')
    g.gw.ops?.drain('SIGTERM')
    await eventually(() => g.access().some((l) => l.reqId === `held-${tag}` && l.status === 503), 30_000, 'the held request\'s 503 line')
    // The gateway has ended or closed the connection: the caller goes on sending a little, then reads.
    const result = await client.readAfterClose(() => sockets[0])
    await eventually(() => exits.length > 0, 30_000, 'the cut drain to exit')
    return result
  } finally {
    client.kill()
    upstream.waiting.splice(0).forEach((w) => w.res.destroy())
    await g.gw.close()
  }
}

describe('a drain\'s end, with a caller that reads slowly and is still sending', () => {
  for (const tls of [true, false]) {
    it(`${tls ? 'a TLS' : 'a plain'} listener: the caller reads the first answer whole, then the 503 drain_ended with Connection: close, then the end`, async () => {
      const { received, error } = await slowCallerAtDrainEnd(tls)
      const text = received.toString('latin1')
      expect({ answers: text.match(/HTTP\/1\.1 \d{3}/g), error }).toEqual({ answers: ['HTTP/1.1 200', 'HTTP/1.1 503'], error: null })
      const second = text.indexOf('HTTP/1.1 503 ')
      const first = parseRawResponse(received.subarray(0, second))
      expect([first.status, JSON.parse(first.body.toString('utf8')).bodyLength]).toEqual([200, FILLER.length])
      const reply = parseRawResponse(received.subarray(second))
      expect([reply.status, reply.headers.connection, JSON.parse(reply.body.toString('utf8'))]).toEqual([503, 'close', { errors: [{ msg: RUNNING, code: 503 }] }])
    }, 120_000)
  }
})
