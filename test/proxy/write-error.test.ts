import { Duplex } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GatewayError, REASONS, statusOf, type ErrorSurface, type Reason } from '../../src/errors.js'
import { writeRawError } from '../../src/proxy/write-error.js'
import { parseRawResponse } from '../support/raw-client.js'

/** A socket that keeps what is written to it. */
function capture(): { socket: Duplex; bytes(): Buffer } {
  const chunks: Buffer[] = []
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk))
      cb()
    },
  })
  return { socket, bytes: () => Buffer.concat(chunks) }
}

// The one writer of gateway-made errors on raw sockets (CONNECT refusals, parse errors,
// header timeouts): for any reason, surface and message (any Unicode), the answer is a
// complete HTTP/1.1 response whose Content-Length is the body's byte length and whose body
// is the JSON envelope with the status of the reason.
describe('writeRawError', () => {
  it('always writes the envelope with a byte-exact Content-Length and closes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REASONS), fc.constantFrom<ErrorSurface>('proxy', 'api'), fc.string({ unit: 'binary', maxLength: 200 }), (reason: Reason, surface, msg) => {
        const { socket, bytes } = capture()
        const status = writeRawError(socket, new GatewayError(reason, msg), surface)
        const r = parseRawResponse(bytes())
        expect(r.status).toBe(statusOf(reason, surface))
        expect(status).toBe(r.status)
        expect(Number(r.headers['content-length'])).toBe(r.body.length)
        expect(r.headers.connection).toBe('close')
        expect(JSON.parse(r.body.toString('utf8'))).toEqual({ errors: [{ msg, code: r.status }] })
        if (r.status === 407) expect(r.headers['proxy-authenticate']).toMatch(/^Bearer/)
        socket.destroy()
      }),
      { seed: 14, numRuns: 2000 },
    )
  })
})
