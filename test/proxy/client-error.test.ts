/**
 * node:https passes its TLS handshake failures on as 'clientError' too (a handshake timeout
 * arrives with the socket still writable). Those are not HTTP requests: clientErrorOf answers
 * none of them, so no listener writes an HTTP 400 into a TLS session that never began or logs
 * "refused by the HTTP parser" for it; the TLS handlers report them. Parser errors still get
 * their answers.
 */
import { describe, expect, it } from 'vitest'
import { clientErrorOf } from '../../src/proxy/client-error.js'

const error = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })

describe('clientErrorOf', () => {
  it('answers no TLS-layer error', () => {
    for (const code of ['ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ECONNRESET', 'EPIPE']) {
      expect(clientErrorOf(error(code), 'listen.timeouts', 10_000), code).toBeUndefined()
    }
  })

  it('still answers what the HTTP parser refused', () => {
    expect(clientErrorOf(error('HPE_INVALID_METHOD'), 'listen.timeouts', 10_000)?.reason).toBe('bad_request')
    expect(clientErrorOf(error('HPE_HEADER_OVERFLOW'), 'listen.timeouts', 10_000)?.reason).toBe('headers_too_large')
    expect(clientErrorOf(error('ERR_HTTP_REQUEST_TIMEOUT'), 'admin.timeouts', 10_000)?.message).toBe('request headers did not arrive within 10 s (admin.timeouts.headers)')
  })
})
